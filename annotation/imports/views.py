"""Web UI: the manager's upload page for items.

The form posts here and works without JavaScript; ``imports.js`` enhances it (drop zone,
preview of the first lines, upload through the import API without leaving the page, so the
chosen file stays chosen after an error)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from rankwise.errors import ApplicationError, LineErrors, error_text

from ..models import Project
from ..permissions import RANK, Role, role_in
from . import examples, services


class ImportForm(forms.Form):
    file = forms.FileField(help_text="JSON Lines, optionally gzip-compressed.")
    format = forms.ChoiceField(choices=[
        ("native", "native: prompt or messages with K responses"),
        ("hh-rlhf", "hh-rlhf: chosen and rejected transcripts (K = 2)"),
        ("trl", "trl: prompt, chosen, rejected (K = 2)"),
        ("prompts", "prompts: prompts alone, for the active policy to answer"),
    ])
    labels = forms.ChoiceField(required=False, choices=[
        ("", "default: imported for hh-rlhf and trl"),
        ("imported", "imported: store each line's preference as a label"),
        ("none", "none: prompts and responses only"),
    ])


@login_required
@require_http_methods(["GET", "POST"])
def import_items(request, pk):
    project = get_object_or_404(Project, pk=pk)
    role = role_in(user=request.user, project=project)
    # Below manager the page does not exist, as for non-members: nothing is leaked.
    if role is None or RANK[role] < RANK[Role.MANAGER]:
        raise Http404("No such project.")
    context = {"project": project, "result": None, "detail": "", "errors": [],
               "examples": examples.examples(k=project.responses_per_item),
               "import_config": {
                   "api": reverse("api-items-import", args=[project.pk]),
                   "items": reverse("browse-items", args=[project.pk]),
                   "k": project.responses_per_item,
               }}
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            context["result"] = services.import_items(
                actor=request.user, project=project, source=data["file"],
                format=data["format"], labels=data["labels"] or None,
            )
            form = ImportForm()
        except LineErrors as exc:
            context["detail"] = str(exc.detail)
            context["errors"] = exc.errors
        except ApplicationError as exc:
            context["detail"] = error_text(exc)
    context["form"] = form
    status = 400 if context["detail"] else 200
    return render(request, "annotation/imports/upload.html", context, status=status)
