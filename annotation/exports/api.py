"""REST: the streaming export and its row count. Thin: parse, call, stream.

Reviewers and managers of the project may export (annotators get 403, anyone else 404).
Every parameter is checked before the answer starts, so a bad one is a 400 naming it and no
byte of data is sent; once streaming, the rows come from one read-only transaction on
PostgreSQL (:func:`annotation.exports.dataset.consistent_read`). Without ``format`` the
export is ``trl``; parameters the export does not know are ignored. The download is named
``<project name as a slug>-<format>[-<split>].jsonl`` (``.jsonl.gz`` with ``compress=gzip``)
and recorded in the audit log (``export.download``) with its parameters; a preview or a
count is not.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.http import StreamingHttpResponse
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from rankwise.api import IgnoreFormatParameter
from rankwise.errors import ValidationFailed

from ..permissions import Role, project_for
from ..project_settings import CONSENSUS_METHODS
from ..services import audit
from . import dataset, writers
from .params import FORMATS, SOURCES, SPLITS, TIES, ExportParams, parse_params

MAX_PREVIEW = 100
JSONL, GZIP = "application/x-ndjson", "application/gzip"
WHO = "Reviewers and managers of the project; annotators get 403."

FILTERS = [
    OpenApiParameter("format", str, enum=list(FORMATS), default="trl",
                     description="trl: prompt/chosen/rejected pairs (conversational for items "
                     "with messages); hh-rlhf: transcripts our hh-rlhf import reads back; "
                     "annotations: one line per label; consensus: one line per item."),
    OpenApiParameter("min_agreement", float, description="0..1: items whose agreement is at "
                     "least this (items with fewer than two labels are left out)."),
    OpenApiParameter("min_annotations", int, description="Items with at least this many "
                     "non-imported labels."),
    OpenApiParameter("include_gold", bool, default=False, description="Keep gold items."),
    OpenApiParameter("annotators", str, description="Comma-separated user ids: only their "
                     "labels count."),
    OpenApiParameter("guideline_version", int, description="Only labels made under it."),
    OpenApiParameter("since", OpenApiTypes.DATETIME,
                     description="Only labels made at or after this ISO 8601 date or time."),
    OpenApiParameter("consensus", str, enum=list(CONSENSUS_METHODS),
                     description="The consensus method; the project's setting by default."),
    OpenApiParameter("ties", str, enum=list(TIES), default="drop",
                     description="keep: write tied pairs too, with \"tie\": true."),
    OpenApiParameter("source", str, enum=list(SOURCES),
                     description="Whose labels: human, import or ai; human and import by "
                     "default."),
    OpenApiParameter("split", str, enum=list(SPLITS),
                     description="A seeded split by item (content hash)."),
    OpenApiParameter("split_seed", int, default=0),
    OpenApiParameter("test_size", float, default=0.1, description="The test share, 0..1."),
]
STREAM_OPTIONS = [
    OpenApiParameter("compress", str, enum=["gzip"], description="gzip: an application/gzip "
                     "download of the same JSON Lines."),
    OpenApiParameter("preview", int, description=f"1..{MAX_PREVIEW}: answer JSON with the "
                     "first rows and the total count instead of the download."),
]

Preview = inline_serializer("ExportPreview", {
    "rows": serializers.ListField(child=serializers.DictField(),
                                  help_text="The first rows of the export."),
    "count": serializers.IntegerField(help_text="Rows of the whole export."),
})
Count = inline_serializer("ExportCount", {"rows": serializers.IntegerField()})


def _options(query) -> tuple[bool, int | None]:
    """(gzip, preview size) of the streaming endpoint, checked like the filters."""
    errors = {}
    compress = query.get("compress") or None
    if compress not in (None, "gzip"):
        errors["compress"] = f"must be gzip; got {compress!r}."
    preview = query.get("preview") or None
    if preview is not None:
        text = preview.strip()
        if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_PREVIEW):
            errors["preview"] = f"must be an integer between 1 and {MAX_PREVIEW}."
        else:
            preview = int(text)
    if errors:
        raise ValidationFailed.of_fields(errors)
    return compress == "gzip", preview


def filename(project, params: ExportParams, *, gzip: bool) -> str:
    """``<project slug>-<format>[-<split>].jsonl[.gz]``: ASCII, no path, no quote."""
    parts = [slugify(project.name) or f"project-{project.pk}", params.format]
    if params.split:
        parts.append(params.split)
    return "-".join(parts) + (".jsonl.gz" if gzip else ".jsonl")


def _stream(*, project, params: ExportParams, gzip: bool) -> Iterator[bytes]:
    with dataset.consistent_read():
        rows = dataset.export_rows(project=project, params=params)
        try:
            chunks = writers.jsonl_bytes(rows)
            yield from writers.gzip_bytes(chunks) if gzip else chunks
        finally:
            # A client that hangs up closes this generator: the rows' cursor goes first,
            # inside the transaction that holds it.
            rows.close()


class ExportApi(APIView):
    content_negotiation_class = IgnoreFormatParameter

    @extend_schema(
        operation_id="projects_export",
        summary="Export the project's preferences as JSON Lines",
        description="Streams every row of the export (`application/x-ndjson`, or "
        "`application/gzip` with `compress=gzip`) in a stable order: by item id, then pair "
        "by pair. Labels a reviewer excluded never appear. Bad parameters answer 400 naming "
        f"each before any data is sent. {WHO}",
        parameters=FILTERS + STREAM_OPTIONS,
        responses={
            (200, JSONL): OpenApiResponse(OpenApiTypes.STR, description="JSON Lines, one row "
                                          "per line (see README \"Export\" for each format)."),
            (200, GZIP): OpenApiResponse(OpenApiTypes.BINARY,
                                         description="The same JSON Lines, gzip."),
            (200, "application/json"): OpenApiResponse(Preview, description="With preview."),
        },
    )
    def get(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.REVIEWER)
        params = parse_params(request.query_params)
        gzip, preview = _options(request.query_params)
        if preview is not None:
            return Response(dataset.preview(project=project, params=params, n=preview))
        audit(actor=request.user, action="export.download", project=project, target=project,
              params=params.as_dict(), compress="gzip" if gzip else None)
        response = StreamingHttpResponse(_stream(project=project, params=params, gzip=gzip),
                                         content_type=GZIP if gzip else JSONL)
        response["Content-Disposition"] = (
            f'attachment; filename="{filename(project, params, gzip=gzip)}"')
        response["Cache-Control"] = "private, no-store"
        # Proxies such as nginx would otherwise hold the stream back to buffer it.
        response["X-Accel-Buffering"] = "no"
        return response


class ExportCountApi(APIView):
    content_negotiation_class = IgnoreFormatParameter

    @extend_schema(operation_id="projects_export_count", summary="Rows an export would have",
                   parameters=FILTERS, responses={200: Count},
                   description=f"How many rows the export with these filters has now. {WHO}")
    def get(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.REVIEWER)
        params = parse_params(request.query_params)
        with dataset.consistent_read():
            return Response({"rows": dataset.count_rows(project=project, params=params)})
