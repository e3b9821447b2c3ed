"""REST: snapshots of a project's export, and their downloads.

Managers create them; reviewers and managers list, read and download them; annotators get
403 and non-members 404. A download streams one of the snapshot's files by kind
(``?file=jsonl|parquet|card|manifest``), with ``Content-Length``, ``ETag`` (the file's
sha256) and, for the data files, ``Accept-Ranges: bytes`` and single byte ranges (RFC 9110
§14: ``206`` with ``Content-Range``, ``416`` past the end; a range this server does not
serve, several ranges or a malformed header, is ignored and the whole file sent, as §14.2
allows). The card and the manifest are small and always sent whole.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.http import FileResponse
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from rankwise.api import IgnoreFormatParameter, Pagination
from rankwise.errors import ValidationFailed

from ..permissions import Role, project_for
from ..project_settings import CONSENSUS_METHODS
from . import snapshots
from .models import Snapshot
from .params import ExportParams

READERS = "Reviewers and managers of the project; annotators get 403."
BLOCK = 1 << 16
BYTE_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)")
SUFFIXES = {"jsonl": ".jsonl", "parquet": ".parquet", "card": "-README.md",
            "manifest": "-manifest.json"}

SnapshotBody = inline_serializer("SnapshotRequest", {
    "format": serializers.ChoiceField(choices=["trl", "hh-rlhf", "annotations", "consensus"]),
    "min_agreement": serializers.FloatField(required=False, allow_null=True),
    "min_annotations": serializers.IntegerField(required=False, allow_null=True),
    "include_gold": serializers.BooleanField(required=False),
    "annotators": serializers.ListField(child=serializers.IntegerField(), required=False,
                                        allow_null=True, help_text="User ids."),
    "guideline_version": serializers.IntegerField(required=False, allow_null=True),
    "since": serializers.DateTimeField(required=False, allow_null=True),
    "consensus": serializers.ChoiceField(choices=list(CONSENSUS_METHODS), required=False,
                                         allow_null=True,
                                         help_text="Default: the project's setting, "
                                                   "recorded on the snapshot."),
    "ties": serializers.ChoiceField(choices=["drop", "keep"], required=False),
    "source": serializers.ChoiceField(choices=["human", "import", "ai"], required=False,
                                      allow_null=True),
    "split": serializers.ChoiceField(choices=["train", "test"], required=False,
                                     allow_null=True),
    "split_seed": serializers.IntegerField(required=False),
    "test_size": serializers.FloatField(required=False),
})

SnapshotSchema = type("Snapshot", (serializers.Serializer,), {
    "id": serializers.UUIDField(),
    "project": serializers.IntegerField(),
    "status": serializers.ChoiceField(choices=Snapshot.Status.values),
    "progress": serializers.FloatField(help_text="0..1 while building."),
    "format": serializers.CharField(),
    "params": serializers.DictField(help_text="The export parameters, resolved."),
    "rows": serializers.IntegerField(allow_null=True),
    "sha256": serializers.CharField(allow_null=True, help_text="Of the JSON Lines file."),
    "size_bytes": serializers.IntegerField(allow_null=True),
    "parquet_sha256": serializers.CharField(allow_null=True),
    "parquet_size_bytes": serializers.IntegerField(allow_null=True),
    "manifest_sha256": serializers.CharField(
        allow_null=True, help_text="Of manifest.json: every label and review it was built from."),
    "n_annotations": serializers.IntegerField(allow_null=True),
    "detail": serializers.CharField(help_text="Why it failed."),
    "created_by": serializers.IntegerField(allow_null=True),
    "created_at": serializers.DateTimeField(),
    "started_at": serializers.DateTimeField(allow_null=True),
    "finished_at": serializers.DateTimeField(allow_null=True),
    "url": serializers.CharField(),
    "download_url": serializers.CharField(allow_null=True, help_text="JSON Lines, once ready."),
    "parquet_url": serializers.CharField(allow_null=True),
    "card_url": serializers.CharField(allow_null=True, help_text="README.md, the dataset card."),
    "manifest_url": serializers.CharField(allow_null=True),
})

SnapshotPage = type("SnapshotPage", (serializers.Serializer,), {
    "count": serializers.IntegerField(),
    "next": serializers.CharField(allow_null=True),
    "previous": serializers.CharField(allow_null=True),
    "results": SnapshotSchema(many=True),
})

DownloadQuery = type("SnapshotDownloadQuery", (serializers.Serializer,), {
    "file": serializers.ChoiceField(choices=list(snapshots.FILES), default="jsonl"),
})


def params_from_body(body: Any) -> ExportParams:
    """The body's format and filters, checked as the export's query parameters are (an
    empty value is "not given", as a form sends it; an unknown name is refused)."""
    if not isinstance(body, Mapping):
        raise ValidationFailed("Send a JSON object with the format and filters.")
    return ExportParams.from_dict({key: value for key, value in body.items() if value != ""})


class SnapshotListCreateApi(APIView):
    @extend_schema(operation_id="projects_snapshots_list", responses={200: SnapshotPage},
                   description=f"The project's snapshots, newest first, paginated. {READERS}")
    def get(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.REVIEWER)
        paginator = Pagination()
        page = paginator.paginate_queryset(snapshots.for_project(project=project), request,
                                           view=self)
        return paginator.get_paginated_response([snapshots.public(s) for s in page])

    @extend_schema(
        operation_id="projects_snapshots_create", request=SnapshotBody,
        responses={202: SnapshotSchema},
        description="Build an immutable snapshot of the export with these filters in the "
                    "background: JSON Lines, Parquet, a dataset card and the manifest of "
                    "every label and review it contains. Poll the snapshot until `status` is "
                    "`ready` (or `failed`, with `detail`). Managers.")
    def post(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.MANAGER)
        params = params_from_body(request.data)
        snapshot = snapshots.create(actor=request.user, project=project, params=params)
        return Response(snapshots.public(snapshot), status=status.HTTP_202_ACCEPTED)


def _snapshot_for(request, pk, snapshot_id) -> Snapshot:
    project = project_for(user=request.user, project_id=pk, at_least=Role.REVIEWER)
    snapshot = snapshots.load(project=project, snapshot_id=snapshot_id)
    if snapshot is None:
        raise exceptions.NotFound("No such snapshot.")
    return snapshot


class SnapshotDetailApi(APIView):
    @extend_schema(operation_id="projects_snapshot", responses={200: SnapshotSchema},
                   description=f"A snapshot: status, progress, digests, rows, links. {READERS}")
    def get(self, request, pk, snapshot):
        return Response(snapshots.public(_snapshot_for(request, pk, snapshot)))


class Unsatisfiable(Exception):
    """A byte range that starts past the end of the file."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` byte positions (inclusive) a ``Range`` header asks of a file of
    ``size`` bytes; None for the whole file. Raises :class:`Unsatisfiable` (416)."""
    match = BYTE_RANGE.fullmatch((header or "").strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        # A suffix: the last N bytes.
        if int(last) == 0 or size == 0:
            raise Unsatisfiable()
        return max(0, size - int(last)), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # invalid (§14.1.1): ignored
    if start >= size:
        raise Unsatisfiable()
    return start, min(int(last), size - 1) if last else size - 1


class _Slice:
    """``length`` bytes of a file from ``start``, read in blocks; closed with the response."""

    def __init__(self, path: Path, start: int, length: int):
        self._file = path.open("rb")
        self._file.seek(start)
        self._left = length

    def read(self, size: int = -1) -> bytes:
        size = self._left if size < 0 else min(size, self._left)
        data = self._file.read(size) if size > 0 else b""
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._file.close()


class _FileResponse(FileResponse):
    block_size = BLOCK


def _etag(snapshot: Snapshot, kind: str, path: Path) -> str:
    digest = {"jsonl": snapshot.sha256, "parquet": snapshot.parquet_sha256,
              "manifest": snapshot.manifest_sha256}.get(kind)
    if not digest:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return f'"{digest}"'


def _filename(snapshot: Snapshot, kind: str) -> str:
    name = slugify(snapshot.project.name)[:60].strip("-") or f"project-{snapshot.project_id}"
    return f"{name}-{snapshot.pk.hex[:8]}{SUFFIXES[kind]}"


# Ranges are for resuming the data files; the card and the manifest are small and always
# sent whole (the manifest is a JSON document, described as one).
RANGED = ("jsonl", "parquet")
FILE_TYPES = {
    **{(code, snapshots.MEDIA_TYPES[kind]): OpenApiTypes.BINARY for code in (200, 206)
       for kind in RANGED},
    (200, "text/markdown"): OpenApiTypes.BINARY,
    (200, "application/json"): OpenApiTypes.OBJECT,
}


class SnapshotDownloadApi(APIView):
    # ``?file=`` picks the file; the answer is the file whatever Accept says.
    content_negotiation_class = IgnoreFormatParameter

    @extend_schema(
        operation_id="projects_snapshot_download",
        parameters=[DownloadQuery, OpenApiParameter(
            "Range", str, location=OpenApiParameter.HEADER, required=False,
            description="`bytes=first-last`, `bytes=first-` or `bytes=-suffix`: one range.")],
        responses={
            **FILE_TYPES,
            409: OpenApiResponse(description="The snapshot is not ready yet (or failed)."),
            410: OpenApiResponse(description="The snapshot's files are gone from this server."),
            416: OpenApiResponse(description="The range starts past the end of the file; "
                                 "`Content-Range: bytes */<size>`."),
        },
        description="One of a ready snapshot's files: `jsonl` (default), `parquet`, `card` "
                    "(README.md) or `manifest`. `ETag` is the file's sha256; single byte "
                    f"ranges of the data files are served (206). {READERS}")
    def get(self, request, pk, snapshot):
        record = _snapshot_for(request, pk, snapshot)
        query = DownloadQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        kind = query.validated_data["file"]
        path = snapshots.ready_file(record, kind)
        size = path.stat().st_size
        etag = _etag(record, kind, path)
        asked = request.headers.get("Range") if kind in RANGED else None
        if_range = request.headers.get("If-Range")
        if if_range is not None and if_range.strip() != etag:
            asked = None  # the file changed since the client's copy: send all of it
        try:
            span = byte_range(asked, size)
        except Unsatisfiable:
            return Response({"detail": f"The range is outside the file's {size} bytes.",
                             "errors": [{"field": "Range", "message": "unsatisfiable"}]},
                            status=status.HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE,
                            headers={"Content-Range": f"bytes */{size}"})
        first, last = span if span is not None else (0, size - 1)
        response = _FileResponse(_Slice(path, first, last - first + 1),
                                 status=206 if span is not None else 200,
                                 content_type=snapshots.MEDIA_TYPES[kind])
        response["Content-Length"] = str(max(0, last - first + 1))
        if span is not None:
            response["Content-Range"] = f"bytes {first}-{last}/{size}"
        response["Accept-Ranges"] = "bytes" if kind in RANGED else "none"
        response["ETag"] = etag
        response["Cache-Control"] = "private"
        response["Content-Disposition"] = content_disposition_header(
            True, _filename(record, kind))
        return response
