"""REST views of the annotating loop: next task, submit, skip. Thin: parse, call, shape."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from rankwise.text import text_problem

from . import serializers, services
from .auth import SECURITY, LeanTokenAuthentication


class EngineApi(APIView):
    """The annotating endpoints: the lean token check of the hot path, or a session. The
    engine's refusals carry a ``code`` (and details) in the error body."""

    authentication_classes = [LeanTokenAuthentication, SessionAuthentication]


def _json_object(request) -> dict:
    if not isinstance(request.data, dict):
        raise exceptions.ValidationError({"body": ["The body must be a JSON object."]})
    return request.data


class NextTaskApi(EngineApi):
    @extend_schema(
        auth=SECURITY,
        responses={200: serializers.TaskSchema,
                   204: OpenApiResponse(description="Nothing left for this annotator.")},
        description="Lease the next task. Asking again while holding a live lease returns "
        "the same task.",
    )
    def get(self, request, pk):
        task = services.next_task(project_id=pk, annotator=request.user)
        if task is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(serializers.task_body(task))


class SubmitApi(EngineApi):
    @extend_schema(
        auth=SECURITY,
        request=serializers.SubmitSchema,
        parameters=[OpenApiParameter(
            "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
            description="Repeating a request with the same key returns the same annotation.",
        )],
        responses={
            201: serializers.SubmittedSchema,
            200: OpenApiResponse(serializers.SubmittedSchema,
                                 description="A repeated submission: the stored annotation."),
            409: OpenApiResponse(description="The assignment was skipped, the lease expired "
                                 "and the item is full, or the Idempotency-Key was used for "
                                 "another submission (see `code`)."),
        },
    )
    def post(self, request, pk):
        body = _json_object(request)
        key = request.headers.get("Idempotency-Key") or None
        if key is not None and len(key) > 128:
            raise exceptions.ValidationError({"Idempotency-Key": ["At most 128 characters."]})
        if key is not None and (problem := text_problem(key)):
            raise exceptions.ValidationError({"Idempotency-Key": [f"The key {problem}"]})
        result = services.submit_annotation(
            assignment_id=pk, annotator=request.user, ranking=body.get("ranking"),
            strength=body.get("strength"), flags=body.get("flags"),
            rationale=body.get("rationale"), duration_ms=body.get("duration_ms"),
            idempotency_key=key,
        )
        return Response(serializers.submission_body(result),
                        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class SkipApi(EngineApi):
    @extend_schema(auth=SECURITY, request=serializers.SkipSchema,
                   responses={200: serializers.SkippedSchema,
                              409: OpenApiResponse(description="Already submitted.")})
    def post(self, request, pk):
        body = _json_object(request)
        assignment = services.skip_assignment(
            assignment_id=pk, annotator=request.user, reason=body.get("reason", "")
        )
        return Response({"assignment": assignment.pk, "status": assignment.status})
