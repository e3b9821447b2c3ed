"""The item browser's pages, rendered on the server. Thin: parse the query, call the
selectors, render. Reviewers and managers only: an annotator would learn which items are
gold and read other people's labels, so annotators and outsiders get 404, as on the other
pages they may not open. An item of another project answers 404 as a missing one does."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from ..models import Project
from ..permissions import RANK, Role, role_in
from ..project_settings import project_settings
from ..quality import services as quality_services
from . import detail, forms, selectors


def _reviewer_project(request, pk) -> tuple[Project, str]:
    project = get_object_or_404(Project, pk=pk)
    role = role_in(user=request.user, project=project)
    if role is None or RANK[role] < RANK[Role.REVIEWER]:
        raise Http404("No such project.")
    return project, role


def _link(query, **changes) -> str:
    """The list's query string with ``changes`` applied (None drops a key)."""
    out = query.copy()
    for key, value in changes.items():
        out.pop(key, None)
        if value not in (None, ""):
            out[key] = value
    encoded = out.urlencode()
    return f"?{encoded}" if encoded else "?"


@login_required
@require_GET
def item_list(request, pk):
    project, role = _reviewer_project(request, pk)
    filters, page_number, problems = forms.parse(request.GET)
    reasons = selectors.review_reasons(project=project)
    counts = selectors.status_counts(project=project, in_review=len(reasons))
    page = selectors.browse_items(project=project, filters=filters, page=page_number,
                                  reasons=reasons, counts=counts)
    kept = request.GET.copy()
    for name in ("project", "page"):
        kept.pop(name, None)
    tabs = [{"key": key, "label": "All" if key == "" else selectors.LABELS[key],
             "help": selectors.HELP.get(key, "Every item of the project"),
             "count": counts[key or "all"], "url": _link(kept, status=key or None),
             "current": filters.status == key}
            for key in ("", *selectors.FILTERS)]
    return render(request, "annotation/browse/items.html", {
        "project": project,
        "role": role,
        "form": forms.BrowseForm(request.GET),
        "filters": filters,
        "problems": problems,
        "tabs": tabs,
        "page": page,
        "overlap": project.overlap,
        "search_limit": selectors.SEARCH_COUNT_LIMIT,
        "previous_url": _link(kept, page=page.number - 1) if page.number > 1 else None,
        "next_url": _link(kept, page=page.number + 1) if page.has_next else None,
    })


@login_required
@require_GET
def item_detail(request, pk, item_id):
    project, role = _reviewer_project(request, pk)
    item = project.items.filter(pk=item_id).first()
    if item is None:
        raise Http404("No such item.")
    item.project = project
    consensus = quality_services.current_consensus(
        item=item, method=project_settings(project).quality.consensus)
    context = detail.item_page(project=project, item=item, consensus=consensus)
    return render(request, "annotation/browse/item.html", {
        "project": project,
        "role": role,
        "overlap": project.overlap,
        "review_reasons": [reason.replace("_", " ") for reason in
                           selectors.review_reasons(project=project).get(item.pk, [])],
        **context,
    })
