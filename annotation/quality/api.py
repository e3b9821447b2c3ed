"""REST views of label quality: agreement, annotators, consensus, review. Thin: parse,
call, shape. Reviewers and managers only; annotators get 403 on every one."""

from __future__ import annotations

import csv
import io

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from rankwise.api import Pagination
from rankwise.errors import NotFound

from ..models import Item
from ..permissions import Role, has_role, project_for
from ..project_settings import project_settings
from . import annotators, compute, review_queue, selectors, services
from . import serializers as s
from .labels import consensus_sources
from .models import Consensus

REVIEWERS = "Reviewers and managers of the project; annotators get 403."


def _item_for(request, pk: int) -> Item:
    item = Item.objects.select_related("project").filter(pk=pk).first()
    if item is None or not has_role(user=request.user, project=item.project,
                                    at_least=Role.ANNOTATOR):
        raise NotFound("No such item.")
    project_for(user=request.user, project_id=item.project_id, at_least=Role.REVIEWER)
    return item


def _query(serializer_class, request) -> dict:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


class AgreementApi(APIView):
    @extend_schema(parameters=[s.AgreementQuery], responses={200: OpenApiTypes.OBJECT},
                   description="Inter-annotator agreement over response pairs, human labels "
                   f"only, with bootstrap CIs, a weekly series and the Cohen κ matrix. {REVIEWERS}")
    def get(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.REVIEWER)
        return Response(selectors.agreement_report(project=project, **_query(s.AgreementQuery,
                                                                             request)))


class ProgressApi(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT},
                   description=f"Items complete, labels per hour, review queue size. {REVIEWERS}")
    def get(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.REVIEWER)
        return Response(review_queue.progress(project=project))


class AnnotatorsCsvRenderer(BaseRenderer):
    """``?format=csv``: the annotator table's rows as CSV, one column per signal."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(annotators.CSV_COLUMNS)
        writer.writerows(annotators.csv_rows(data["results"]))
        return out.getvalue().encode()


class AnnotatorsApi(APIView):
    renderer_classes = [JSONRenderer, AnnotatorsCsvRenderer]

    def perform_content_negotiation(self, request, force=False):
        if request.method != "GET":  # OPTIONS and the like describe the view in JSON
            return JSONRenderer(), JSONRenderer.media_type
        return super().perform_content_negotiation(request, force)

    def handle_exception(self, exc):
        # An error is the documented JSON body, whatever format was asked for.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

    @extend_schema(parameters=[OpenApiParameter("format", str, enum=["json", "csv"],
                                                description="csv: a CSV download")],
                   responses={200: OpenApiResponse(
                       OpenApiTypes.OBJECT, description="JSON, or text/csv with ?format=csv.")},
                   description=f"Per-annotator quality signals and trust. {REVIEWERS}")
    def get(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.REVIEWER)
        answer = Response(annotators.annotator_table(project=project))
        if request.accepted_renderer.format == "csv":
            answer["Content-Disposition"] = f'attachment; filename="annotators-{project.pk}.csv"'
        return answer


class ItemDetailApi(APIView):
    @extend_schema(parameters=[s.ConsensusQuery], responses={200: s.ItemDetailSerializer},
                   description="An item with every label, its reviews and consensus "
                   "(`?source=` picks the voting label sources for this answer only). "
                   f"{REVIEWERS}")
    def get(self, request, pk):
        item = _item_for(request, pk)
        query = _query(s.ConsensusQuery, request)
        method = query.get("consensus") or project_settings(item.project).quality.consensus
        consensus = _consensus(item, method, query.get("source"))
        item = Item.objects.prefetch_related("responses", "reviews__reviewer").get(pk=item.pk)
        item.status = _status(item)
        item.overlap = item.project.overlap
        return Response(s.ItemDetailSerializer(item, context={"consensus": consensus}).data)


def _consensus(item: Item, method: str, sources) -> Consensus | None:
    """The stored consensus, or with ``?source=`` other than the settings' one computed
    for this answer only (never stored: the stored one follows the settings)."""
    if sources is None or set(sources) == set(consensus_sources(item.project)):
        return services.current_consensus(item=item, method=method)
    result = compute.item_result(item=item, method=method, sources=sources)
    if result is None:
        return None
    return Consensus(item=item, project=item.project, method=method, ranking=result.ranking,
                     confidence=result.confidence, agreement=result.agreement,
                     n_labels=result.n_labels, source=result.source,
                     fingerprint=result.fingerprint, computed_at=timezone.now())


def _status(item: Item) -> str:
    if item.annotations_done >= item.project.overlap:
        return "done"
    return "in_progress" if item.annotations_done or item.leases_live else "pending"


class ReviewApi(APIView):
    @extend_schema(request=s.ReviewRequest, responses={201: s.ReviewAnswer},
                   description="A reviewer's decision: accept one label's ranking, enter a "
                   "ranking, promote to gold with a ranking, or exclude one label. "
                   f"{REVIEWERS}")
    def post(self, request, pk):
        item = _item_for(request, pk)
        body = s.ReviewRequest(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        review = services.review_item(actor=request.user, item=item, decision=data["decision"],
                                      annotation_id=data.get("annotation"),
                                      ranking=data.get("ranking"), note=data["note"])
        method = project_settings(item.project).quality.consensus
        consensus = services.current_consensus(item=item, method=method)
        return Response({"review": s.ReviewSerializer(review).data,
                         "consensus": s.ConsensusSerializer(consensus).data if consensus else None},
                        status=status.HTTP_201_CREATED)


class ReviewQueueApi(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT},
                   description="Items needing review with the reasons, paginated. "
                   f"{REVIEWERS}")
    def get(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.REVIEWER)
        paginator = Pagination()
        page = paginator.paginate_queryset(review_queue.review_queue(project=project), request,
                                           view=self)
        return paginator.get_paginated_response(page)


class RecomputeApi(APIView):
    @extend_schema(request=s.RecomputeRequest, responses={202: OpenApiTypes.OBJECT},
                   description="Recompute every consensus method and the trust auto-pause "
                   "now, in the background. Managers.")
    def post(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.MANAGER)
        s.RecomputeRequest(data=request.data).is_valid(raise_exception=True)
        services.recompute_now(project=project)
        return Response({"status": "queued"}, status=status.HTTP_202_ACCEPTED)
