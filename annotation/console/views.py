"""The manager's console: pages with forms to create a project, edit its settings, manage
its members and write its guidelines, so that running a project needs no API calls.

Thin like the API views: a form parses the input, one write service of
:mod:`annotation.services` (which audit-logs) does the work, and a service's error is shown
on the form next to the field it names, with what the user typed kept. A failed POST
answers the page again with the error's status (400, or 409 for a conflict); a successful
one redirects (303 See Other). Manager pages answer 404 to everyone else, members below
manager included, as the other manager pages do.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from rankwise.errors import ApplicationError

from .. import selectors, services
from ..models import Membership, Project
from ..permissions import RANK, Role, can_create_projects, can_create_users, role_in
from ..quality import services as quality_services
from ..rendering import markdown_to_html
from . import forms
from . import selectors as console_selectors


def manager_project(request, pk) -> Project:
    """The project, for its managers (and staff); 404 for anyone else."""
    project = get_object_or_404(Project, pk=pk)
    role = role_in(user=request.user, project=project)
    if role is None or RANK[role] < RANK[Role.MANAGER]:
        raise Http404("No such project.")
    return project


def see_other(name: str, pk: int) -> HttpResponseRedirect:
    """After a successful POST: 303, so that the browser GETs the page it is sent to."""
    return HttpResponseRedirect(reverse(name, args=[pk]), status=303)


def _member(project: Project, member_id) -> Membership:
    return get_object_or_404(Membership.objects.select_related("user"), project=project,
                             pk=member_id)


# --- projects -------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def new_project(request):
    """Create a project; its creator becomes its manager. The API's rule: staff, users
    granted ``annotation.add_project``, and managers of any project."""
    if not can_create_projects(request.user):
        raise PermissionDenied("Ask a manager or an administrator to create the project.")
    form = forms.ProjectForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                project = services.create_project(
                    actor=request.user, **form.project_fields(),
                    settings={"flags": form.flags_value()})
            except ApplicationError as exc:
                forms.show_errors(form, exc)
                status = exc.status
            else:
                messages.success(request, f"Project “{project.name}” created.")
                return see_other("project", project.pk)
    return render(request, "annotation/console/new_project.html", {"form": form},
                  status=status)


@login_required
@require_http_methods(["GET", "POST"])
def project_settings(request, pk):
    project = manager_project(request, pk)
    form = forms.SettingsForm(request.POST or None, project=project)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            wanted = {**form.project_fields(), "settings": form.settings_value()}
            changed = {key: value for key, value in wanted.items()
                       if getattr(project, key) != value}
            try:
                if changed:
                    services.update_project(actor=request.user, project=project, **changed)
            except ApplicationError as exc:
                forms.show_errors(form, exc)
                status = exc.status
                project.refresh_from_db()
            else:
                messages.success(request, "Settings saved." if changed else "Nothing changed.")
                return see_other("console-settings", project.pk)
    return render(request, "annotation/console/settings.html",
                  {"project": project, "form": form}, status=status)


# --- members --------------------------------------------------------------------------------


def _members_page(request, project: Project, *, add_form=None, user_form=None,
                  row_error: tuple[int, str] | None = None, status: int = 200):
    current = selectors.current_guideline(project=project)
    return render(request, "annotation/console/members.html", {
        "project": project,
        "rows": console_selectors.member_rows(project=project),
        "current": current,
        "roles": forms.ROLE_CHOICES,
        "add_form": add_form or forms.AddMemberForm(),
        "user_form": user_form or forms.NewUserForm(),
        "can_create_users": can_create_users(request.user),
        "row_error": row_error,
    }, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def members(request, pk):
    """The member list; a POST adds a member by username (or changes their role when they
    are one already)."""
    project = manager_project(request, pk)
    if request.method == "GET":
        return _members_page(request, project)
    form = forms.AddMemberForm(request.POST)
    if not form.is_valid():
        return _members_page(request, project, add_form=form, status=400)
    try:
        _membership, created = services.set_membership(
            actor=request.user, project=project, user=form.user,
            role=form.cleaned_data["role"])
    except ApplicationError as exc:
        forms.show_errors(form, exc)
        return _members_page(request, project, add_form=form, status=exc.status)
    role = form.cleaned_data["role"]
    messages.success(request, f"{form.user.username} added as {role}." if created
                     else f"{form.user.username} was a member already; their role is now {role}.")
    return see_other("console-members", project.pk)


@login_required
@require_POST
def new_user(request, pk):
    """Create an account and, unless told not to, add it to the project at once (both or
    neither)."""
    project = manager_project(request, pk)
    if not can_create_users(request.user):
        raise PermissionDenied("Only staff and project managers can create users.")
    form = forms.NewUserForm(request.POST)
    if not form.is_valid():
        return _members_page(request, project, user_form=form, status=400)
    data = form.cleaned_data
    try:
        with transaction.atomic():
            user = services.create_user(actor=request.user, username=data["username"],
                                        password=data["password"], email=data["email"])
            if data["role"]:
                services.set_membership(actor=request.user, project=project, user=user,
                                        role=data["role"])
    except ApplicationError as exc:
        forms.show_errors(form, exc)
        return _members_page(request, project, user_form=form, status=exc.status)
    added = f" and added as {data['role']}" if data["role"] else ""
    messages.success(request, f"Account {user.username} created{added}.")
    return see_other("console-members", project.pk)


@login_required
@require_POST
def member_role(request, pk, member_id):
    project = manager_project(request, pk)
    membership = _member(project, member_id)
    form = forms.RoleForm(request.POST)
    if not form.is_valid():
        return _members_page(request, project, status=400,
                             row_error=(membership.pk, "Choose a role."))
    role = form.cleaned_data["role"]
    if role != membership.role:
        try:
            services.set_membership(actor=request.user, project=project, user=membership.user,
                                    role=role, status=membership.status)
        except ApplicationError as exc:
            return _members_page(request, project, status=exc.status,
                                 row_error=(membership.pk, exc.detail))
    messages.success(request, f"{membership.user.username} is now {role}.")
    return see_other("console-members", project.pk)


@login_required
@require_POST
def member_status(request, pk, member_id):
    """Pause (with a reason, which the member sees and the audit log keeps) or resume."""
    project = manager_project(request, pk)
    membership = _member(project, member_id)
    form = forms.StatusForm(request.POST)
    if not form.is_valid():
        return _members_page(request, project, status=400,
                             row_error=(membership.pk, "Say whether to pause or resume."))
    data = form.cleaned_data
    membership = quality_services.set_member_status(
        actor=request.user, membership=membership, status=data["status"],
        reason=data["reason"].strip())
    paused = membership.status == Membership.Status.PAUSED
    messages.success(request, f"{membership.user.username} is "
                     f"{'paused' if paused else 'active again'}.")
    return see_other("console-members", project.pk)


@login_required
@require_POST
def member_remove(request, pk, member_id):
    project = manager_project(request, pk)
    membership = _member(project, member_id)
    try:
        services.remove_membership(actor=request.user, membership=membership)
    except ApplicationError as exc:
        return _members_page(request, project, status=exc.status,
                             row_error=(membership.pk, exc.detail))
    messages.success(request, f"{membership.user.username} is no longer a member.")
    return see_other("console-members", project.pk)


# --- guidelines -----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def guideline_editor(request, pk):
    """Write the guideline with a preview, publish it as a new version, and see who read
    which version. Without JavaScript the Preview button posts here and the page answers
    with the preview; with it, the preview follows the typing (guideline_preview)."""
    project = manager_project(request, pk)
    current = selectors.current_guideline(project=project)
    form = forms.GuidelineForm(request.POST or None,
                               initial={"text": current.text if current else ""})
    status = 200
    text = request.POST.get("text", "") if request.method == "POST" else form.initial["text"]
    if request.method == "POST" and request.POST.get("action") != "preview":
        status = 400
        if form.is_valid():
            try:
                guideline = services.publish_guideline(actor=request.user, project=project,
                                                       text=form.cleaned_data["text"])
            except ApplicationError as exc:
                forms.show_errors(form, exc)
                status = exc.status
            else:
                messages.success(request, f"Version {guideline.version} published. Annotators "
                                 "must acknowledge it before their next task.")
                return see_other("console-guidelines", project.pk)
    return render(request, "annotation/console/guidelines.html", {
        "project": project,
        "form": form,
        "current": current,
        "preview": markdown_to_html(text),
        "versions": console_selectors.guideline_versions(project=project),
        "rows": console_selectors.member_rows(project=project),
    }, status=status)


@login_required
@require_POST
def guideline_preview(request, pk):
    """The guideline as annotators will see it: ``{"html": ...}``, rendered and cleaned by
    the same function as the guidelines page."""
    manager_project(request, pk)
    return JsonResponse({"html": markdown_to_html(request.POST.get("text", ""))})
