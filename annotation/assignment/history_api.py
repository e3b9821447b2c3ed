"""REST views of an annotator's own work: progress, their labels, revising one. Thin."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response

from annotation.permissions import project_for

from . import history, revision, serializers
from .api import EngineApi, _json_object
from .auth import SECURITY

NOT_FOUND = OpenApiResponse(description="No such project or label (someone else's labels "
                            "are not found either).")


def _whole_number(request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit() or len(raw) > 9:
        raise exceptions.ValidationError({name: ["A whole number of 1 or more."]})
    return int(raw)


class MyProgressApi(EngineApi):
    @extend_schema(auth=SECURITY, responses={200: serializers.MyProgressSchema,
                                             404: NOT_FOUND},
                   description="How far the project is, and your own count, for any member.")
    def get(self, request, pk):
        project = project_for(user=request.user, project_id=pk)
        return Response(history.progress(project=project, annotator=request.user))


class MyLabelsApi(EngineApi):
    @extend_schema(
        auth=SECURITY,
        parameters=[OpenApiParameter("page", int, required=False),
                    OpenApiParameter("page_size", int, required=False,
                                     description=f"At most {history.MAX_PAGE_SIZE}.")],
        responses={200: serializers.MyLabelsSchema, 400: OpenApiResponse(
            description="page or page_size is not a whole number."), 404: NOT_FOUND},
        description="Your own labels in the project, newest first.",
    )
    def get(self, request, pk):
        project = project_for(user=request.user, project_id=pk)
        page = _whole_number(request, "page", 1)
        size = _whole_number(request, "page_size", history.PAGE_SIZE)
        return Response(history.my_labels(project=project, annotator=request.user, page=page,
                                          page_size=size))


class LabelApi(EngineApi):
    @extend_schema(auth=SECURITY, responses={200: serializers.LabelToReviseSchema,
                                             404: NOT_FOUND},
                   description="One of your labels with its item, as you saw it, to revise.")
    def get(self, request, pk):
        label = revision.own_label(annotation_id=pk, annotator=request.user)
        found = history.label_to_revise(label=label)
        return Response({**found.entry, "item": found.item,
                         "revise_url": f"/api/v1/annotations/{label.pk}/revise/"})


class ReviseApi(EngineApi):
    @extend_schema(
        auth=SECURITY,
        request=serializers.SubmitSchema,
        responses={
            201: serializers.RevisedSchema,
            200: OpenApiResponse(serializers.RevisedSchema,
                                 description="A repeated revision, or one that changed "
                                 "nothing: the live label."),
            400: OpenApiResponse(description="The body breaks the rules of submit; "
                                 "`errors` name each field."),
            404: NOT_FOUND,
            409: OpenApiResponse(description="Revisions are off, the time for them passed, "
                                 "a practice answer, a label a reviewer left out, or a label "
                                 "already revised (see `code`)."),
        },
        description="Replace your label with a revised one (the body of submit).",
    )
    def post(self, request, pk):
        body = _json_object(request)
        result = revision.revise_annotation(
            annotation_id=pk, annotator=request.user, ranking=body.get("ranking"),
            strength=body.get("strength"), flags=body.get("flags"),
            rationale=body.get("rationale"), duration_ms=body.get("duration_ms"),
        )
        return Response(serializers.revised_body(result),
                        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)
