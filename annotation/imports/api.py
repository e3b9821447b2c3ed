"""REST: importing items from JSON Lines, and the status of background imports."""

from __future__ import annotations

import io

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiRequest,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from rankwise.api import IgnoreFormatParameter

from ..permissions import Role, project_for
from . import jobs, services

# Raw bodies are read from the request stream in chunks, never through request.body, so the
# size limit is the import's own (IMPORT_MAX_BYTES), not DATA_UPLOAD_MAX_MEMORY_SIZE.
RAW_MEDIA_TYPES = {
    "application/x-ndjson", "application/jsonl", "application/json", "text/plain",
    "application/gzip", "application/x-gzip", "application/octet-stream",
}


# "async" is a Python keyword, so this serializer is built from a dict of its fields.
ImportQuery = type("ImportQuery", (serializers.Serializer,), {
    "format": serializers.ChoiceField(choices=services.FORMATS, default="native"),
    "labels": serializers.ChoiceField(choices=services.LABELS, required=False),
    "async": serializers.BooleanField(default=False),
})

ImportResult = inline_serializer("ItemImportResult", {
    "created": serializers.IntegerField(help_text="Items stored."),
    "prompts": serializers.IntegerField(
        help_text="Prompts stored alone (format prompts): they wait for the active policy to "
                  "propose responses, then become items."),
    "duplicates": serializers.IntegerField(
        help_text="Lines whose prompt and responses (in any order) were already in the file "
                  "or the project; not stored."),
    "imported_labels": serializers.IntegerField(
        help_text="Annotations stored with source import (chosen ≻ rejected)."),
    "gold": serializers.IntegerField(help_text="Items stored as gold."),
    "empty_responses": serializers.IntegerField(
        help_text="Stored responses with no visible text (the empty string or whitespace "
                  "only): a model that answered nothing; imported as they are."),
})

ImportJob = inline_serializer("ItemImportJob", {
    "id": serializers.CharField(),
    "project": serializers.IntegerField(),
    "status": serializers.ChoiceField(choices=["queued", "running", "done", "failed"]),
    "format": serializers.CharField(),
    "labels": serializers.CharField(),
    "created_at": serializers.DateTimeField(),
    "started_at": serializers.DateTimeField(allow_null=True),
    "finished_at": serializers.DateTimeField(allow_null=True),
    "result": serializers.DictField(allow_null=True, help_text="The counts, once done."),
    "detail": serializers.CharField(help_text="Why it failed."),
    "errors": serializers.ListField(child=serializers.DictField(),
                                    help_text='Bad lines: [{"line", "message"}].'),
})

# The body of these is the Error component (rankwise.schema).
BAD_LINES = OpenApiResponse(description="Bad input: `errors` lists every bad line "
                            '(`{"line", "message"}`) or parameter; nothing was stored.')
TOO_LARGE = OpenApiResponse(description="The upload passes RANKWISE_IMPORT_MAX_BYTES, "
                            "_MAX_LINES or _MAX_LINE_BYTES.")


def _source(request):
    """The uploaded bytes: a multipart ``file`` field or the raw request body."""
    media_type = (request.content_type or "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        upload = request.FILES.get("file")
        if upload is None:
            raise exceptions.ValidationError({"file": "Attach the JSON Lines file as the "
                                                      "multipart field 'file'."})
        return upload
    if media_type in RAW_MEDIA_TYPES:
        # DRF gives no stream for an empty body.
        return request.stream if request.stream is not None else io.BytesIO()
    raise exceptions.UnsupportedMediaType(
        media_type or "(none)",
        detail=f"Unsupported Content-Type {media_type or '(none)'!r}: send JSON Lines as "
               "application/x-ndjson (gzip allowed) or a multipart field 'file'.",
    )


class ItemImportApi(APIView):
    parser_classes = [MultiPartParser]
    content_negotiation_class = IgnoreFormatParameter

    @extend_schema(
        operation_id="projects_items_import",
        summary="Import items from JSON Lines",
        description=(
            "All-or-nothing: every line is checked first; one bad line answers 400 listing "
            "every bad line (`{\"line\", \"message\"}`) and nothing is stored. The body is JSON "
            "Lines (`application/x-ndjson`, `application/jsonl`, `application/json` or "
            "`text/plain`) or a multipart field `file`; either may be gzip. Needs the "
            "manager role. With `async=1` the upload is stored and imported by a worker: "
            "202 with a job to poll."
        ),
        parameters=[
            OpenApiParameter("format", str, enum=list(services.FORMATS), default="native",
                             description="Line format. hh-rlhf and trl need a project with K=2; "
                                         "prompts: prompts alone, for the active policy to "
                                         "propose responses to."),
            OpenApiParameter("labels", str, enum=list(services.LABELS),
                             description="imported (default for hh-rlhf and trl): store each "
                                         "line's preference as an annotation with source "
                                         "import; none: prompts and responses only."),
            OpenApiParameter("async", bool, default=False,
                             description="Import in the background; answers 202 with a job."),
        ],
        request={
            "application/x-ndjson": OpenApiRequest(OpenApiTypes.BINARY, examples=[
                OpenApiExample("native", media_type="application/x-ndjson",
                               value='{"prompt": "2 + 2?", "responses": ["4", "5"]}\n'),
            ]),
            "multipart/form-data": {"type": "object", "required": ["file"], "properties": {
                "file": {"type": "string", "format": "binary",
                         "description": "The JSON Lines file, optionally gzip."},
            }},
        },
        responses={201: ImportResult, 202: ImportJob, 400: BAD_LINES, 413: TOO_LARGE,
                   409: OpenApiResponse(description="Another writer added the same items "
                                        "meanwhile; retry.")},
    )
    def post(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.MANAGER)
        query = ImportQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        options = query.validated_data
        format, labels = services.resolve_options(
            project=project, format=options["format"], labels=options.get("labels")
        )
        source = _source(request)
        if options["async"]:
            job = jobs.submit(actor=request.user, project=project, source=source,
                              format=format, labels=labels)
            return Response(jobs.public(job), status=status.HTTP_202_ACCEPTED)
        result = services.import_items(actor=request.user, project=project, source=source,
                                       format=format, labels=labels)
        return Response(result, status=status.HTTP_201_CREATED)


class ItemImportJobApi(APIView):
    @extend_schema(operation_id="projects_items_import_job", summary="A background import",
                   responses={200: ImportJob})
    def get(self, request, pk, job):
        project = project_for(user=request.user, project_id=pk, at_least=Role.MANAGER)
        record = jobs.load(project=project, job_id=job)
        if record is None:
            raise exceptions.NotFound("No such import.")
        return Response(jobs.public(record))
