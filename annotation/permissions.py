"""Object-level roles: what each member of a project may do.

A user who is not a member of a project gets 404 for it (its existence is not leaked);
a member whose role is too low gets 403. Staff users act as managers everywhere.
"""

from __future__ import annotations

from rankwise.errors import NotFound, PermissionDenied

from .models import Membership, Project

Role = Membership.Role
RANK = {Role.ANNOTATOR: 1, Role.REVIEWER: 2, Role.MANAGER: 3}


def role_in(*, user, project: Project) -> str | None:
    """The user's role in the project (managers for staff), or None for non-members."""
    if not user.is_authenticated:
        return None
    if user.is_staff:
        return Role.MANAGER
    cached = getattr(user, "_rankwise_roles", None)
    if cached is None:
        cached = user._rankwise_roles = {}
    if project.pk not in cached:
        membership = (
            Membership.objects.filter(project=project, user=user).values_list("role", flat=True)
        ).first()
        cached[project.pk] = membership
    return cached[project.pk]


def has_role(*, user, project: Project, at_least: str) -> bool:
    role = role_in(user=user, project=project)
    return role is not None and RANK[role] >= RANK[at_least]


def project_for(*, user, project_id, at_least: str = Role.ANNOTATOR) -> Project:
    """Load a project the user may see at the given role, or raise 404/403."""
    # A missing project and one the user is not a member of answer alike, so ids don't leak.
    project = Project.objects.filter(pk=project_id).first()
    role = role_in(user=user, project=project) if project is not None else None
    if role is None:
        raise NotFound("No such project.")
    if RANK[role] < RANK[at_least]:
        raise PermissionDenied(f"This needs the {at_least} role in the project.")
    return project


def can_create_projects(user) -> bool:
    """Staff, users granted ``annotation.add_project``, and managers of any project."""
    if not user.is_authenticated:
        return False
    if user.is_staff or user.has_perm("annotation.add_project"):
        return True
    return Membership.objects.filter(user=user, role=Role.MANAGER).exists()


def can_create_users(user) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_staff or user.has_perm("auth.add_user"):
        return True
    return Membership.objects.filter(user=user, role=Role.MANAGER).exists()
