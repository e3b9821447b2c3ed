"""Answers of the annotating API. The hot path builds plain dicts; the Serializer classes
describe the same shapes for the OpenAPI schema.

Nothing here may carry an item's gold ranking, whether it is gold, or anybody else's
labels; the only exception is the correct ranking of a practice item, after it was answered.
"""

from __future__ import annotations

from rest_framework import serializers

from ..project_settings import project_settings
from .services import Submitted, Task


def feedback_url(assignment_id: int) -> str:
    return f"/api/v1/assignments/{assignment_id}/feedback/"


def task_body(task: Task) -> dict:
    item, project, assignment = task.item, task.project, task.assignment
    body_item: dict = {"id": item.pk}
    if item.messages is not None:
        body_item["messages"] = item.messages
    else:
        body_item["prompt"] = item.prompt
    body_item["responses"] = task.responses
    return {
        "assignment": assignment.pk,
        "item": body_item,
        "lease_expires_at": assignment.lease_expires_at.isoformat().replace("+00:00", "Z"),
        "reason": task.reason,
        "is_practice": assignment.is_practice,
        "guideline_version": task.guideline_version,
        "project": {
            "id": project.pk,
            "name": project.name,
            "responses_per_item": project.responses_per_item,
            "flags": list(project_settings(project).flags),
            "strength": len(task.responses) == 2,
        },
        "submit_url": f"/api/v1/assignments/{assignment.pk}/submit/",
        "skip_url": f"/api/v1/assignments/{assignment.pk}/skip/",
    }


def submission_body(result: Submitted) -> dict:
    body = {
        "annotation": result.annotation_id,
        "assignment": result.assignment_id,
        "created": result.created,
        "feedback_url": feedback_url(result.assignment_id),
    }
    if result.practice is not None:
        body["practice"] = result.practice
    return body


class ResponseShown(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()


class ItemShown(serializers.Serializer):
    id = serializers.IntegerField()
    prompt = serializers.CharField(required=False, help_text="Plain-text items.")
    messages = serializers.ListField(
        child=serializers.DictField(), required=False,
        help_text='Conversation items: [{"role", "content"}, ...].',
    )
    responses = ResponseShown(many=True, help_text="In this annotator's display order.")


class ProjectShown(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    responses_per_item = serializers.IntegerField()
    flags = serializers.ListField(child=serializers.CharField(),
                                  help_text="Flags this project accepts.")
    strength = serializers.BooleanField(help_text="Whether a strength (1..3) may be given.")


class TaskSchema(serializers.Serializer):
    assignment = serializers.IntegerField()
    item = ItemShown()
    lease_expires_at = serializers.DateTimeField()
    reason = serializers.CharField(help_text="Why this task was chosen.")
    is_practice = serializers.BooleanField(
        help_text="Practice item: the answer to submit comes back with the correct ranking."
    )
    guideline_version = serializers.IntegerField(allow_null=True)
    project = ProjectShown()
    submit_url = serializers.CharField()
    skip_url = serializers.CharField()


class SubmitSchema(serializers.Serializer):
    ranking = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="Tiers of response ids, best first; ids in one tier are tied; every "
        "response exactly once.",
    )
    strength = serializers.IntegerField(required=False, min_value=1, max_value=3,
                                        help_text="Only for items with two responses.")
    flags = serializers.JSONField(
        required=False, help_text='Flags on the task: a list, or an object {"task": [...], '
        '"<response id>": [...]} that flags single responses too.')
    rationale = serializers.CharField(required=False, allow_blank=True)
    duration_ms = serializers.IntegerField(required=False, min_value=0)


class PracticeFeedbackSchema(serializers.Serializer):
    correct = serializers.BooleanField()
    gold_ranking = serializers.ListField(child=serializers.ListField(
        child=serializers.IntegerField()))
    answered = serializers.IntegerField(help_text="Practice answers counted (the most recent).")
    answered_correctly = serializers.IntegerField()
    required = serializers.IntegerField()
    min_accuracy = serializers.FloatField()
    accuracy = serializers.FloatField(allow_null=True)
    qualified = serializers.BooleanField()


class SubmittedSchema(serializers.Serializer):
    annotation = serializers.IntegerField()
    assignment = serializers.IntegerField()
    created = serializers.BooleanField(help_text="False when this repeated a submission.")
    feedback_url = serializers.CharField(
        help_text="How the project's reward model scores this item's responses.")
    practice = PracticeFeedbackSchema(required=False)


class SkipSchema(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True)


class SkippedSchema(serializers.Serializer):
    assignment = serializers.IntegerField()
    status = serializers.CharField()


# --- the annotator's own progress and labels (history.py, revision.py) --------------------

class MyProgressSchema(serializers.Serializer):
    done = serializers.IntegerField(help_text="Labels the project has, each item counted up "
                                    "to the overlap (gold items left out).")
    needed = serializers.IntegerField(help_text="Labels the project needs: items × overlap.")
    items_complete = serializers.IntegerField()
    items_total = serializers.IntegerField()
    overlap = serializers.IntegerField()
    submitted_by_you = serializers.IntegerField(help_text="Your submitted labels, all sessions.")
    left_for_you = serializers.IntegerField(help_text="Open items you have not had yet.")


class ItemExcerpt(serializers.Serializer):
    id = serializers.IntegerField()
    excerpt = serializers.CharField(allow_blank=True)


class MyLabelSchema(serializers.Serializer):
    id = serializers.IntegerField()
    item = ItemExcerpt()
    submitted_at = serializers.DateTimeField()
    display_order = serializers.ListField(child=serializers.IntegerField(),
                                          help_text="Response ids in the order you saw them.")
    ranking = serializers.ListField(child=serializers.ListField(
        child=serializers.IntegerField()))
    strength = serializers.IntegerField(allow_null=True)
    flags = serializers.ListField(child=serializers.CharField())
    response_flags = serializers.DictField(child=serializers.ListField(
        child=serializers.CharField()), help_text='{"<response id>": [flag, ...]}')
    why = serializers.CharField(allow_blank=True, help_text="The reason you wrote.")
    is_practice = serializers.BooleanField()
    superseded = serializers.BooleanField(help_text="You revised this label later.")
    revises = serializers.IntegerField(allow_null=True,
                                       help_text="The label this one replaced.")
    revisable = serializers.BooleanField()
    not_revisable_because = serializers.CharField(allow_null=True)


class MyLabelsSchema(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    pages = serializers.IntegerField()
    results = MyLabelSchema(many=True)


class LabelToReviseSchema(MyLabelSchema):
    item = ItemShown()
    revise_url = serializers.CharField()


class RevisedSchema(serializers.Serializer):
    annotation = serializers.IntegerField(help_text="The live label: the revision.")
    assignment = serializers.IntegerField()
    supersedes = serializers.IntegerField(allow_null=True)
    created = serializers.BooleanField(help_text="False when this repeated a revision or "
                                       "changed nothing.")
    feedback_url = serializers.CharField()


def revised_body(result) -> dict:
    return {"annotation": result.annotation_id, "assignment": result.assignment_id,
            "supersedes": result.supersedes, "created": result.created,
            "feedback_url": feedback_url(result.assignment_id)}
