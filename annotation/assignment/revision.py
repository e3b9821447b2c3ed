"""Revising a label: an annotator changes their mind about an item they already ranked.

A revision never edits a label in place, so the audit trail and the history keep what was
sent first. It is a new Annotation that ``supersedes`` the old one; the old row is marked
``superseded`` and every reader of counted labels leaves it out. The assignment moves to
the new row, so the display order and the practice flag stay with the live label. The
item's counters do not move: the item has the same number of labels as before.

Rules, each refused with 409 and words that say why:
- the project allows revisions (``settings.annotation.allow_revisions``) and, with
  ``revision_window_hours`` above 0, the first submit is at most that many hours old;
- practice answers are not revised (their feedback was the expected ranking);
- a label a reviewer left out is not revised (the reviewer judged that label);
- only the newest version of a label is revised.
The body is the submit body, checked by the same ``validation.check_submission`` (the same
400 bodies). Someone else's label, or one of a project the caller left, is a 404.

Repeating a revision is safe: the same body sent again for the old label returns the
revision it made (200), and a body that changes nothing returns the label as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from rankwise.errors import Conflict, NotFound, ValidationFailed

from .. import services as project_services
from ..models import Annotation, Guideline, Membership
from ..project_settings import ProjectSettings, project_settings
from .submission import same_body
from .validation import InvalidSubmission, check_submission


@dataclass(frozen=True)
class Revised:
    annotation_id: int
    assignment_id: int
    supersedes: int | None
    created: bool


def own_label(*, annotation_id: int, annotator, lock: bool = False) -> Annotation:
    """The caller's own label from the annotating loop (superseded ones too), in a project
    they are still a member of, or 404."""
    rows = Annotation.objects.filter(pk=annotation_id, annotator=annotator,
                                     source=Annotation.Source.HUMAN)
    label = (rows.select_for_update() if lock else rows).first()
    if label is None or (label.assignment_id is None and not label.superseded) or not (
        Membership.objects.filter(project_id=label.project_id, user=annotator).exists()
    ):
        raise NotFound("No such label.")
    return label


def refusal(*, label: Annotation, rules: ProjectSettings, is_practice: bool,
            first_submitted: datetime | None, now: datetime) -> Conflict | None:
    """Why this label may not be revised now (None: it may)."""
    if not rules.annotation.allow_revisions:
        return Conflict("This project does not allow changing labels after they are sent.",
                        code="revisions_off")
    hours = rules.annotation.revision_window_hours
    if hours and first_submitted is not None and now - first_submitted > timedelta(hours=hours):
        return Conflict(f"Labels can be changed for {hours:g} hours after they are sent; "
                        "the time for this one has passed.", code="revision_window_passed")
    if is_practice:
        return Conflict("Practice answers cannot be changed: you have already seen the "
                        "expected ranking for them.", code="practice_item")
    if label.excluded:
        return Conflict("A reviewer left this label out, so it cannot be changed.",
                        code="label_excluded")
    return None


def revise_annotation(*, annotation_id: int, annotator, ranking: Any, strength: Any = None,
                      flags: Any = None, rationale: Any = None, duration_ms: Any = None,
                      now: datetime | None = None) -> Revised:
    """Replace the caller's label with a revised one; see the module docstring."""
    body = {"ranking": ranking, "strength": strength, "flags": flags, "rationale": rationale,
            "duration_ms": duration_ms}
    return _revise(annotation_id=annotation_id, annotator=annotator, body=body,
                   now=now or timezone.now())


@transaction.atomic
def _revise(*, annotation_id: int, annotator, body: dict, now: datetime) -> Revised:
    # The row lock makes two revisions of one label queue: the second sees the first's.
    label = own_label(annotation_id=annotation_id, annotator=annotator, lock=True)
    if label.superseded:
        newer = Annotation.objects.filter(supersedes=label).first()
        if newer is not None and not newer.superseded and same_body(newer, body):
            return Revised(annotation_id=newer.pk, assignment_id=newer.assignment_id,
                           supersedes=label.pk, created=False)
        raise Conflict(
            "This label was already changed; change its newest version"
            + (f" (label {newer.pk})." if newer is not None else "."),
            code="label_superseded", annotation=newer.pk if newer is not None else None)
    assignment = label.assignment
    rules = project_settings(label.project)
    why_not = refusal(label=label, rules=rules, is_practice=assignment.is_practice,
                      first_submitted=assignment.finished_at or label.created_at, now=now)
    if why_not is not None:
        raise why_not
    try:
        clean = check_submission(response_ids=assignment.display_order,
                                 allowed_flags=rules.flags, **body)
    except InvalidSubmission as exc:
        raise ValidationFailed(errors=exc.errors) from None
    if same_body(label, body):
        return Revised(annotation_id=label.pk, assignment_id=assignment.pk,
                       supersedes=label.supersedes_id, created=False)
    # The old row lets go of the assignment first: both are one-to-one.
    Annotation.objects.filter(pk=label.pk).update(superseded=True, assignment=None)
    version = (Guideline.objects.filter(project_id=label.project_id).order_by("-version")
               .values_list("version", flat=True).first())
    revised = Annotation.objects.create(
        project_id=label.project_id, item_id=label.item_id, assignment=assignment,
        annotator=annotator, source=Annotation.Source.HUMAN, ranking=clean.ranking,
        strength=clean.strength, flags=clean.flags, response_flags=clean.response_flags,
        rationale=clean.rationale, duration_ms=clean.duration_ms, guideline_version=version,
        supersedes=label,
    )
    project_services.audit(actor=annotator, action="annotation.revised", project=label.project,
                           target=revised, supersedes=label.pk, item=label.item_id,
                           ranking=clean.ranking, previous_ranking=label.ranking)
    return Revised(annotation_id=revised.pk, assignment_id=assignment.pk, supersedes=label.pk,
                   created=True)
