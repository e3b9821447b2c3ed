"""REST view of critique-and-revise runs (:mod:`judges.revisions`). Thin: parse, check the
role, call the service, shape the answer; the run itself is read and cancelled through the
judge-run views."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.permissions import Role

from . import revisions
from .api import JudgeRunSerializer, json_body, judge_for, unknown_fields


class RevisionRequest(serializers.Serializer):
    items = serializers.JSONField(required=False, help_text='"all" (default), "unlabelled", '
                                  '"sample" (needs limit), or a list of item ids.')
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1_000_000,
                                     allow_null=True)
    rounds = serializers.IntegerField(required=False, min_value=1,
                                      max_value=revisions.MAX_ROUNDS,
                                      help_text="Critique-and-revise rounds per response.")
    dry_run = serializers.BooleanField(required=False,
                                       help_text="Only estimate the cost; store nothing.")


class RevisionEstimate(serializers.Serializer):
    items = serializers.IntegerField()
    responses = serializers.IntegerField()
    calls = serializers.IntegerField(help_text="A critique and a revision per response and "
                                     "round.")
    prompt_chars = serializers.IntegerField()
    already_revised = serializers.IntegerField()


class DryRunAnswer(serializers.Serializer):
    estimate = RevisionEstimate()
    n_items = serializers.IntegerField()


class RevisionRunApi(APIView):
    @extend_schema(
        request=RevisionRequest,
        responses={202: JudgeRunSerializer, 200: DryRunAnswer,
                   400: OpenApiResponse(description="A bad field, named: items, limit, "
                                        "rounds, backend (a reward_model judge cannot "
                                        "rewrite) or principles (none with a critique and "
                                        "a revision request)."),
                   404: OpenApiResponse(description="No such judge.")},
        description="Queue a critique-and-revise run of the judge (manager; audit-logged): "
        "each response of the chosen items is revised under the constitution, and each "
        "revision becomes a synthetic item pairing it with the original, labelled by the "
        "judge (source ai). Responses the judge already revised under the current "
        "constitution are skipped. dry_run: the estimate only, nothing stored.")
    def post(self, request, pk):
        judge = judge_for(user=request.user, judge_id=pk, at_least=Role.MANAGER)
        data = json_body(request)
        unknown_fields(data, {"items", "limit", "rounds", "dry_run"})
        body = RevisionRequest(data=data)
        body.is_valid(raise_exception=True)
        given = body.validated_data
        dry_run = given.get("dry_run", False)
        outcome = revisions.request_revision_run(
            actor=request.user, judge=judge, items=given.get("items", "all"),
            limit=given.get("limit"), rounds=given.get("rounds", 1), dry_run=dry_run)
        if dry_run:
            return Response(DryRunAnswer(outcome).data)
        return Response(JudgeRunSerializer(outcome).data, status=status.HTTP_202_ACCEPTED)
