"""REST views of constitutions, judges, judge runs and a judge's agreement with people.
Thin: parse, check the role, call one service or selector, shape the answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
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
                                  '"low_agreement", or a list of item ids.')
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1_000_000,
                                     allow_null=True)


class JudgeRunSerializer(DocumentedJSONFields, serializers.ModelSerializer):
    class Meta:
        model = JudgeRun
        fields = ["id", "judge", "status", "selection", "limit", "constitution_version",
                  "progress", "n_items", "n_judged", "n_unparseable", "n_skipped", "estimate",
                  "error", "created_at", "started_at", "finished_at"]
        json_schemas = {"selection": SELECTION, "estimate": JSON_OBJECT}


class PrincipleAgreement(serializers.Serializer):
    n_items = serializers.IntegerField()
    percent_agreement = serializers.FloatField(allow_null=True, help_text="A fraction 0..1.")
    cohen_kappa = serializers.FloatField(allow_null=True)
    ece = serializers.FloatField(allow_null=True)


class AgreementAnswer(PrincipleAgreement):
    human_ceiling = serializers.FloatField(allow_null=True)
    by_principle = serializers.DictField(child=PrincipleAgreement(),
                                         help_text="The same figures per principle.")


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
    @extend_schema(request=RunRequest, responses={202: JudgeRunSerializer},
                   description="Queue a run of the judge over items (manager; audit-logged). "
                   "Items the judge already labelled under the current constitution are "
                   "skipped; the answer carries the estimate.")
    def post(self, request, pk):
        judge = judge_for(user=request.user, judge_id=pk, at_least=Role.MANAGER)
        data = json_body(request)
        unknown_fields(data, {"items", "limit"})
        body = RunRequest(data=data)
        body.is_valid(raise_exception=True)
        run = services.request_run(actor=request.user, judge=judge,
                                   items=body.validated_data.get("items", "all"),
                                   limit=body.validated_data.get("limit"))
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
