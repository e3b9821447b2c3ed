"""Writes for projects, users, memberships and guidelines, and the reward model's
uncertainty the queue reads. Each is one transaction."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, FloatField, Max, Value, When

from rankwise.errors import Conflict, NotFound, ValidationFailed

from .models import Acknowledgement, AuditLog, Guideline, Item, Membership, Project
from .project_settings import validate_settings
from .webhooks.events import emit as emit_event  # noqa: F401  (for training: model.published)

User = get_user_model()


def audit(*, actor, action: str, project: Project | None = None, target=None, **data: Any) -> None:
    AuditLog.objects.create(
        project=project,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        target_type=type(target).__name__ if target is not None else "",
        target_id=str(getattr(target, "pk", "") or ""),
        data=data,
    )


@transaction.atomic
def create_user(*, actor, username: str, password: str, email: str = "") -> User:
    if User.objects.filter(username=username).exists():
        raise ValidationFailed.of_fields({"username": "A user with that username already exists."})
    user = User(username=username, email=email)
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationFailed.of_fields({"password": list(exc.messages)}) from exc
    user.set_password(password)
    user.save()
    audit(actor=actor, action="user.create", target=user, username=username)
    return user


@transaction.atomic
def create_project(*, actor, **fields: Any) -> Project:
    if "settings" in fields:
        validate_settings(fields["settings"])
    project = Project.objects.create(created_by=actor, **fields)
    Membership.objects.create(project=project, user=actor, role=Membership.Role.MANAGER)
    audit(actor=actor, action="project.create", project=project, target=project)
    return project


@transaction.atomic
def update_project(*, actor, project: Project, **fields: Any) -> Project:
    if "settings" in fields:
        validate_settings(fields["settings"])
    if "responses_per_item" in fields and fields["responses_per_item"] != project.responses_per_item:
        if project.items.exists():
            raise ValidationFailed.of_fields(
                {"responses_per_item": "Cannot change K once the project has items."}
            )
    for key, value in fields.items():
        setattr(project, key, value)
    project.save()
    audit(actor=actor, action="project.update", project=project, target=project,
          fields=sorted(fields))
    return project


def _keep_a_manager(*, project: Project, user) -> None:
    """Refuse to take the manager role from the project's last manager: nobody but a
    superuser could add members, publish guidelines or change settings again."""
    # The project row lock queues concurrent changes of one project's members, so two
    # managers demoting each other at once cannot both see the other one still there.
    Project.objects.select_for_update().filter(pk=project.pk).first()
    managers = list(project.memberships.filter(role=Membership.Role.MANAGER)
                    .values_list("user_id", flat=True)[:2])
    if managers == [user.pk]:
        raise Conflict(
            f"{user.username} is the project's only manager; make another member a manager "
            "first.",
            code="last_manager",
        )


@transaction.atomic
def set_membership(*, actor, project: Project, user: User, role: str,
                   status: str = Membership.Status.ACTIVE) -> tuple[Membership, bool]:
    if role != Membership.Role.MANAGER:
        _keep_a_manager(project=project, user=user)
    membership, created = Membership.objects.update_or_create(
        project=project, user=user, defaults={"role": role, "status": status}
    )
    audit(actor=actor, action="membership.set", project=project, target=membership,
          user=user.username, role=role, status=status)
    return membership, created


@transaction.atomic
def remove_membership(*, actor, membership: Membership) -> None:
    _keep_a_manager(project=membership.project, user=membership.user)
    audit(actor=actor, action="membership.remove", project=membership.project,
          target=membership, user=membership.user.username)
    membership.delete()


def publish_guideline(*, actor, project: Project, text: str) -> Guideline:
    """A new guideline version; annotators must acknowledge it before their next task."""
    for _attempt in range(3):
        try:
            with transaction.atomic():
                # Lock the project row: two managers publishing at once get versions n and n+1.
                Project.objects.select_for_update().filter(pk=project.pk).first()
                latest = project.guidelines.aggregate(v=Max("version"))["v"] or 0
                guideline = Guideline.objects.create(
                    project=project, version=latest + 1, text=text, created_by=actor
                )
                audit(actor=actor, action="guideline.publish", project=project,
                      target=guideline, version=guideline.version)
                return guideline
        except IntegrityError:
            continue
    raise ValidationFailed.of_fields(
        {"text": "Another guideline was published at the same time; retry."})


def acknowledge_guideline(*, user, guideline: Guideline) -> Acknowledgement:
    ack, _ = Acknowledgement.objects.get_or_create(user=user, guideline=guideline)
    return ack


def acknowledge_current_guideline(*, user, project: Project,
                                  version: int | None = None) -> Acknowledgement:
    """Record that ``user`` read the project's current guideline. ``version``, when given,
    is the version they read: one that is no longer current is a conflict (a manager
    published a newer one meanwhile), so nobody acknowledges text they never saw."""
    current = project.guidelines.order_by("-version").first()
    if current is None:
        raise NotFound("This project has no guideline.", code="no_guideline")
    if version is not None and version != current.version:
        if not project.guidelines.filter(version=version).exists():
            raise ValidationFailed.of_fields(
                {"version": f"This project has no guideline version {version}; the current "
                            f"one is {current.version}."})
        raise Conflict(
            f"Version {version} is no longer the current guideline; read version "
            f"{current.version} and acknowledge that.",
            code="guideline_outdated",
            errors=[{"field": "version",
                     "message": f"The current version is {current.version}."}],
            current_version=current.version,
        )
    return acknowledge_guideline(user=user, guideline=current)


def record_uncertainty(*, project: Project, uncertainty: dict[int, float | None],
                       batch_size: int = 1000) -> int:
    """Set ``Item.uncertainty`` for some of the project's items (the reward model's smallest
    score gap between two responses; None clears it). With the ``active_learning`` setting
    the queue serves the smallest first. Returns how many items were updated."""
    updated = 0
    ids = sorted(uncertainty)
    for start in range(0, len(ids), batch_size):
        chunk = ids[start:start + batch_size]
        value = Case(*(When(pk=pk, then=Value(uncertainty[pk])) for pk in chunk),
                     output_field=FloatField())
        updated += Item.objects.filter(project_id=project.pk, pk__in=chunk).update(
            uncertainty=value
        )
    return updated
