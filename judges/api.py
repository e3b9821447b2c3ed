"""REST views of constitutions, judges, judge runs and a judge's agreement with people.
Thin: parse, check the role, call one service or selector, shape the answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.permissions import Role, project_for
from rankwise.schema import JSON_OBJECT, DocumentedJSONFields

from . import selectors, services
from .models import Judge, JudgeRun

PRINCIPLE = {"type": "object", "required": ["name", "question"], "properties": {
    "name": {"type": "string"}, "question": {"type": "string"},
    "critique": {"type": "string"}, "revision": {"type": "string"}}}
SELECTION = {"oneOf": [{"type": "string", "enum": list(services.SELECTIONS)},
                       {"type": "array", "items": {"type": "integer"}, "minItems": 1}]}


class PrincipleSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=services.MAX_NAME)
    question = serializers.CharField(max_length=services.MAX_TEXT)
    critique = serializers.CharField(max_length=services.MAX_TEXT, required=False,
                                     allow_blank=True)
    revision = serializers.CharField(max_length=services.MAX_TEXT, required=False,
                                     allow_blank=True)


class ConstitutionRequest(serializers.Serializer):
    principles = PrincipleSerializer(many=True, allow_empty=False,
                                     max_length=services.MAX_PRINCIPLES)


class ConstitutionAnswer(serializers.Serializer):
    version = serializers.IntegerField(allow_null=True,
                                       help_text="null until a constitution is published.")
    principles = PrincipleSerializer(many=True)
    created_at = serializers.DateTimeField(allow_null=True)


class JudgeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Judge
        fields = ["id", "project", "name", "backend", "model", "base_url", "path", "principles",
                  "seed", "created_at"]
        read_only_fields = ["id", "project", "created_at"]
        extra_kwargs = {"name": {"validators": []}}


class RunRequest(serializers.Serializer):
    items = serializers.JSONField(required=False, help_text='"all" (default), "unlabelled", '
                                  '"low_agreement", "sample" (a seeded random sample of '
                                  '`limit` items not judged yet), or a list of item ids.')
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1_000_000,
                                     allow_null=True, help_text="At most this many items; "
                                     "required for a sample.")
    dry_run = serializers.BooleanField(required=False, default=False, help_text="true: "
                                       "answer the estimate (200) and store nothing.")


class JudgeRunSerializer(DocumentedJSONFields, serializers.ModelSerializer):
    class Meta:
        model = JudgeRun
        fields = ["id", "judge", "kind", "rounds", "status", "selection", "limit",
                  "constitution_version", "progress", "n_items", "n_judged", "n_unparseable",
                  "n_skipped", "estimate", "error", "created_at", "started_at", "finished_at"]
        json_schemas = {"selection": SELECTION, "estimate": JSON_OBJECT}


class PrincipleAgreement(serializers.Serializer):
    n_items = serializers.IntegerField()
    percent_agreement = serializers.FloatField(allow_null=True, help_text="A fraction 0..1.")
    cohen_kappa = serializers.FloatField(allow_null=True)
    ece = serializers.FloatField(allow_null=True)


class ReliabilityBin(serializers.Serializer):
    lower = serializers.FloatField(help_text="The bin is (lower, upper] of P(A is better); "
                                   "the first bin includes 0.")
    upper = serializers.FloatField()
    n = serializers.IntegerField(help_text="Items in the bin.")
    mean_predicted = serializers.FloatField(allow_null=True,
                                            help_text="Mean P(A is better); null when empty.")
    observed = serializers.FloatField(allow_null=True, help_text="Share of the bin's items "
                                      "where people chose A; null when empty.")


class PositionBias(serializers.Serializer):
    first_shown_rate = serializers.FloatField(allow_null=True, help_text="How often the "
                                              "response shown first wins; 0.5 is no bias. "
                                              "null before any decisive verdict.")
    n = serializers.IntegerField(help_text="Decisive verdicts counted.")
    p_value = serializers.FloatField(allow_null=True, help_text="Exact two-sided binomial "
                                     "test against 0.5.")
    note = serializers.CharField(help_text="How the rate was measured.")


class JudgeFigures(PrincipleAgreement):
    by_principle = serializers.DictField(child=PrincipleAgreement(),
                                         help_text="The same figures per principle.")
    reliability = ReliabilityBin(many=True, help_text="Reliability diagram of P(A is "
                                 "better) on items people did not tie; empty without such "
                                 "items.")
    position_bias = PositionBias(allow_null=True, help_text="null for a backend that has no "
                                 "position (reward_model).")
    position_bias_note = serializers.CharField(allow_null=True, help_text="Why there is no "
                                               "position bias; null when there is.")


class AgreementAnswer(JudgeFigures):
    human_ceiling = serializers.FloatField(allow_null=True)


class JudgeTrust(JudgeFigures):
    id = serializers.IntegerField()
    name = serializers.CharField()
    backend = serializers.CharField()
    model = serializers.CharField(allow_blank=True)


class TrustAnswer(serializers.Serializer):
    project = serializers.IntegerField()
    human_ceiling = serializers.FloatField(allow_null=True, help_text="How often one person "
                                           "matches the consensus of all; null without items "
                                           "two people labelled.")
    judges = JudgeTrust(many=True)


def json_body(request) -> dict:
    data = request.data
    if data in (None, "") or (hasattr(data, "keys") and not data):
        return {}
    if not isinstance(data, dict):
        raise exceptions.ValidationError({"body": ["The body must be a JSON object."]})
    return data


def unknown_fields(data: dict, allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise exceptions.ValidationError({name: ["Unknown parameter."] for name in unknown})


def judge_for(*, user, judge_id, at_least: str) -> Judge:
    judge = Judge.objects.select_related("project").filter(pk=judge_id).first()
    # A missing judge answers like another project's, so ids don't leak.
    project_for(user=user, project_id=judge.project_id if judge else None, at_least=at_least)
    return judge


def constitution_answer(constitution) -> dict:
    if constitution is None:
        return {"version": None, "principles": [], "created_at": None}
    return ConstitutionAnswer(constitution).data


# --- views ------------------------------------------------------------------------------


class ConstitutionApi(APIView):
    @extend_schema(responses={200: ConstitutionAnswer},
                   description="The project's current constitution (any member).")
    def get(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.ANNOTATOR)
        return Response(constitution_answer(selectors.current_constitution(project=project)))

    @extend_schema(request=ConstitutionRequest, responses={200: ConstitutionAnswer},
                   description="Publish a new version of the constitution (manager; "
                   f"audit-logged): 1 to {services.MAX_PRINCIPLES} principles with unique "
                   "names, each with a comparison question.")
    def put(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.MANAGER)
        data = json_body(request)
        unknown_fields(data, {"principles"})
        body = ConstitutionRequest(data=data)
        body.is_valid(raise_exception=True)
        constitution = services.publish_constitution(
            actor=request.user, project=project, principles=data["principles"])
        return Response(constitution_answer(constitution))


class JudgeListApi(APIView):
    @extend_schema(responses={200: JudgeSerializer(many=True)},
                   description="The project's judges (manager).")
    def get(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.MANAGER)
        return Response(JudgeSerializer(selectors.judges_of(project=project), many=True).data)

    @extend_schema(request=JudgeSerializer, responses={201: JudgeSerializer},
                   description="Add a judge (manager; audit-logged). openai: model and "
                   "base_url; local_lm: path; reward_model: the project's active reward "
                   "model. API keys come from the environment, never the request.")
    def post(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.MANAGER)
        data = json_body(request)
        unknown_fields(data, set(JudgeSerializer.Meta.fields) - {"id", "project", "created_at"})
        body = JudgeSerializer(data=data)
        body.is_valid(raise_exception=True)
        judge = services.create_judge(actor=request.user, project=project, **body.validated_data)
        return Response(JudgeSerializer(judge).data, status=status.HTTP_201_CREATED)


class JudgeRunListApi(APIView):
    @extend_schema(request=RunRequest, responses={
        202: JudgeRunSerializer,
        200: inline_serializer("JudgeRunEstimate", {
            "estimate": serializers.DictField(help_text="items, comparisons (calls to the "
                                              "model), prompt_chars, already_judged."),
            "n_items": serializers.IntegerField(),
            "constitution_version": serializers.IntegerField()})},
                   description="Queue a run of the judge over items (manager; audit-logged). "
                   "Items the judge already labelled under the current constitution are "
                   "skipped; the answer carries the estimate. With dry_run the same checks "
                   "and estimate are answered (200) and nothing is stored.")
    def post(self, request, pk):
        judge = judge_for(user=request.user, judge_id=pk, at_least=Role.MANAGER)
        data = json_body(request)
        unknown_fields(data, {"items", "limit", "dry_run"})
        body = RunRequest(data=data)
        body.is_valid(raise_exception=True)
        dry_run = body.validated_data["dry_run"]
        run = services.request_run(actor=request.user, judge=judge,
                                   items=body.validated_data.get("items", "all"),
                                   limit=body.validated_data.get("limit"), dry_run=dry_run)
        if dry_run:
            return Response({"estimate": run.estimate, "n_items": run.n_items,
                             "constitution_version": run.constitution_version})
        return Response(JudgeRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class JudgeRunApi(APIView):
    @extend_schema(responses={200: JudgeRunSerializer},
                   description="A judge run's status, progress 0..1 and counts (reviewer or "
                   "manager).")
    def get(self, request, pk):
        run = JudgeRun.objects.select_related("judge").filter(pk=pk).first()
        project_for(user=request.user, project_id=run.judge.project_id if run else None,
                    at_least=Role.REVIEWER)
        return Response(JudgeRunSerializer(run).data)


class AgreementApi(APIView):
    @extend_schema(responses={200: AgreementAnswer,
                              404: OpenApiResponse(description="No such judge.")},
                   description="The judge's labels against the consensus of human and "
                   "imported labels, on every item that has both (reviewer or manager).")
    def get(self, request, pk):
        judge = judge_for(user=request.user, judge_id=pk, at_least=Role.REVIEWER)
        return Response(AgreementAnswer(selectors.agreement(judge=judge)).data)


class TrustApi(APIView):
    @extend_schema(responses={200: TrustAnswer,
                              404: OpenApiResponse(description="No such project.")},
                   description="Every judge of the project against people's consensus: "
                   "agreement, κ, calibration with its reliability diagram, position bias, "
                   "and the human ceiling (reviewer or manager).")
    def get(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.REVIEWER)
        return Response(TrustAnswer(selectors.trust(project=project)).data)


class CancelRunApi(APIView):
    @extend_schema(request=None, responses={200: JudgeRunSerializer,
                                            409: OpenApiResponse(description="The run is "
                                                                 "finished already.")},
                   description="Cancel a queued or running judge run (manager; "
                   "audit-logged): it stops before its next batch; labels already written "
                   "stay.")
    def post(self, request, pk):
        run = JudgeRun.objects.select_related("judge").filter(pk=pk).first()
        project_for(user=request.user, project_id=run.judge.project_id if run else None,
                    at_least=Role.MANAGER)
        return Response(JudgeRunSerializer(services.cancel_run(actor=request.user,
                                                               run=run)).data)
