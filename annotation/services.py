"""Writes for projects, users, memberships and guidelines. Each is one transaction."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from rest_framework.exceptions import ValidationError

from .models import Acknowledgement, AuditLog, Guideline, Membership, Project

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
        raise ValidationError({"username": "A user with that username already exists."})
    user = User(username=username, email=email)
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationError({"password": list(exc.messages)}) from exc
    user.set_password(password)
    user.save()
    audit(actor=actor, action="user.create", target=user, username=username)
    return user


@transaction.atomic
def create_project(*, actor, **fields: Any) -> Project:
    project = Project.objects.create(created_by=actor, **fields)
    Membership.objects.create(project=project, user=actor, role=Membership.Role.MANAGER)
    audit(actor=actor, action="project.create", project=project, target=project)
    return project


@transaction.atomic
def update_project(*, actor, project: Project, **fields: Any) -> Project:
    if "responses_per_item" in fields and fields["responses_per_item"] != project.responses_per_item:
        if project.items.exists():
            raise ValidationError(
                {"responses_per_item": "Cannot change K once the project has items."}
            )
    for key, value in fields.items():
        setattr(project, key, value)
    project.save()
    audit(actor=actor, action="project.update", project=project, target=project,
          fields=sorted(fields))
    return project


@transaction.atomic
def set_membership(*, actor, project: Project, user: User, role: str,
                   status: str = Membership.Status.ACTIVE) -> tuple[Membership, bool]:
    membership, created = Membership.objects.update_or_create(
        project=project, user=user, defaults={"role": role, "status": status}
    )
    audit(actor=actor, action="membership.set", project=project, target=membership,
          user=user.username, role=role, status=status)
    return membership, created


@transaction.atomic
def remove_membership(*, actor, membership: Membership) -> None:
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
    raise ValidationError({"text": "Another guideline was published at the same time; retry."})


def acknowledge_guideline(*, user, guideline: Guideline) -> Acknowledgement:
    ack, _ = Acknowledgement.objects.get_or_create(user=user, guideline=guideline)
    return ack
