"""REST views of the reward models: the registry, runs, scoring and "watch it learn".
Thin: parse, check the role, call one service or selector, shape the answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from annotation.permissions import Role, project_for
from rankwise.schema import JSON_OBJECT, DocumentedJSONFields

from . import registry, runs, scoring, selectors
from .models import ModelVersion, TrainingRun
from .prompts import prompt_text

# --- shapes -----------------------------------------------------------------------------

LOSS_CURVE = {"type": "array", "items": {"type": "array", "items": {"type": "number"},
                                         "minItems": 2, "maxItems": 2}}


class RewardModelSerializer(DocumentedJSONFields, serializers.ModelSerializer):
    name = serializers.CharField(read_only=True, help_text='"v<version>".')
    training_run = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    eval_items = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = ["id", "version", "name", "is_active", "metrics", "config", "data_fingerprint",
                  "eval_items", "training_run", "created_at", "activated_at"]
        json_schemas = {"metrics": JSON_OBJECT, "config": JSON_OBJECT,
                        "data_fingerprint": JSON_OBJECT}

    def get_eval_items(self, obj: ModelVersion) -> int:
        return len(obj.eval_split.get("eval_items", []))

class TrainingRunSerializer(DocumentedJSONFields, serializers.ModelSerializer):
    reward_model = serializers.SerializerMethodField()
    policy = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = ["id", "project", "kind", "status", "progress", "loss_curve", "metrics",
                  "params", "outcome", "error", "traceback", "attempts", "triggered_by",
                  "n_comparisons", "reward_model", "policy", "created_at", "started_at",
                  "finished_at"]
        json_schemas = {"loss_curve": LOSS_CURVE, "metrics": JSON_OBJECT, "params": JSON_OBJECT}

    def get_reward_model(self, obj: TrainingRun) -> dict | None:
        """The reward model a reward-model run published."""
        return _published(obj, ModelVersion.Kind.REWARD)

    def get_policy(self, obj: TrainingRun) -> dict | None:
        """The policy a policy run published."""
        return _published(obj, ModelVersion.Kind.POLICY)


def _published(run: TrainingRun, kind: str) -> dict | None:
    version = getattr(run, "model_version", None)
    if version is None or version.kind != kind:
        return None
    return {"id": version.pk, "version": version.version, "name": version.name,
            "is_active": version.is_active}


class TrainRequest(serializers.Serializer):
    """Optional overrides of the project's ``settings["reward_model"]`` for one run."""

    mode = serializers.ChoiceField(["head", "finetune"], required=False,
                                   help_text="head: frozen encoder + scalar head (seconds); "
                                   "finetune: the whole encoder.")
    epochs = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    lr = serializers.FloatField(min_value=1e-8, max_value=1.0, required=False)
    batch_size = serializers.IntegerField(min_value=1, max_value=4096, required=False)
    eval_fraction = serializers.FloatField(min_value=0.05, max_value=0.5, required=False)
    seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
    force = serializers.BooleanField(required=False,
                                     help_text="Activate even if not better than the active model.")

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: ["Unknown parameter."] for name in unknown})
        return attrs


class TrainStarted(serializers.Serializer):
    id = serializers.IntegerField()
    run = serializers.IntegerField(help_text="The training run's id (same as id).")
    status = serializers.CharField()
    url = serializers.CharField()


class Message(serializers.Serializer):
    role = serializers.ChoiceField(["system", "user", "assistant"])
    content = serializers.CharField(max_length=scoring.MAX_TEXT_CHARS, allow_blank=True,
                                    trim_whitespace=False)


class ScoreRequest(serializers.Serializer):
    """At most ``MAX_RESPONSES`` responses and ``MAX_MESSAGES`` messages, each text at
    most ``MAX_TEXT_CHARS`` characters, ``MAX_TOTAL_CHARS`` in all (:mod:`training.scoring`)."""

    prompt = serializers.CharField(required=False, max_length=scoring.MAX_TEXT_CHARS,
                                   trim_whitespace=False)
    messages = Message(many=True, required=False, allow_empty=False,
                       max_length=scoring.MAX_MESSAGES)
    responses = serializers.ListField(
        child=serializers.CharField(max_length=scoring.MAX_TEXT_CHARS, allow_blank=True,
                                    trim_whitespace=False),
        min_length=1, max_length=scoring.MAX_RESPONSES,
    )

    def validate(self, attrs):
        if ("prompt" in attrs) == ("messages" in attrs):
            raise serializers.ValidationError(
                {"prompt": ["Give exactly one of prompt and messages."]})
        total = (len(attrs.get("prompt") or "")
                 + sum(len(m["content"]) for m in attrs.get("messages") or ())
                 + sum(len(r) for r in attrs["responses"]))
        if total > scoring.MAX_TOTAL_CHARS:
            raise serializers.ValidationError({"responses": [
                f"The prompt and responses hold {total} characters; one request may hold "
                f"at most {scoring.MAX_TOTAL_CHARS}."]})
        return attrs


class ScoreAnswer(serializers.Serializer):
    model_version = serializers.CharField()
    scores = serializers.ListField(child=serializers.FloatField())


class ActiveRewardModelAnswer(serializers.Serializer):
    model_version = serializers.CharField(allow_null=True, help_text='"v<version>"; null when '
                                          "the project has no active reward model.")
    version = serializers.IntegerField(allow_null=True)
    activated_at = serializers.DateTimeField(allow_null=True)
    trained_on = serializers.IntegerField(allow_null=True,
                                          help_text="How many labels it was trained on.")


class FeedbackRow(serializers.Serializer):
    id = serializers.IntegerField(help_text="Response id.")
    excerpt = serializers.CharField(help_text="The response's first 40 characters.")
    before = serializers.FloatField()
    after = serializers.FloatField()


class FeedbackAnswer(serializers.Serializer):
    """Without an active model only ``model_version`` (null) and ``responses`` (empty)."""

    model_version = serializers.CharField(allow_null=True)
    version = serializers.IntegerField(required=False, allow_null=True,
                                       help_text="The active model's number.")
    activated_at = serializers.DateTimeField(required=False, allow_null=True)
    trained_on = serializers.IntegerField(required=False, allow_null=True,
                                          help_text="How many labels it was trained on.")
    item = serializers.IntegerField(required=False, allow_null=True,
                                    help_text="The assignment's item.")
    prompt_excerpt = serializers.CharField(required=False, allow_null=True,
                                           help_text="The prompt's first 40 characters.")
    responses = FeedbackRow(many=True)


def json_body(request) -> dict:
    data = request.data
    if data in (None, "") or (hasattr(data, "keys") and not data):
        return {}
    if not isinstance(data, dict):
        raise exceptions.ValidationError({"body": ["The body must be a JSON object."]})
    return data


# --- views --------------------------------------------------------------------------------


class VersionListApi(generics.ListAPIView):
    """The project's versions of one model kind, newest first (reviewer or manager)."""

    kind = ModelVersion.Kind.REWARD

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ModelVersion.objects.none()
        project = project_for(user=self.request.user, project_id=self.kwargs["pk"],
                              at_least=Role.REVIEWER)
        return selectors.versions_of(project=project, kind=self.kind).order_by("-version")


def started(run: TrainingRun) -> Response:
    """The 202 answer of a queued run."""
    return Response({"id": run.pk, "run": run.pk, "status": run.status,
                     "url": f"/api/v1/training-runs/{run.pk}/"}, status=status.HTTP_202_ACCEPTED)


class RewardModelListApi(VersionListApi):
    """The project's reward-model versions, newest first (reviewer or manager)."""

    serializer_class = RewardModelSerializer


class TrainApi(APIView):
    @extend_schema(request=TrainRequest,
                   responses={202: TrainStarted,
                              409: OpenApiResponse(description="A run is queued or running.")},
                   description="Queue a reward-model run (manager). 409 while one is queued "
                   "or running.")
    def post(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.MANAGER)
        body = TrainRequest(data=json_body(request))
        body.is_valid(raise_exception=True)
        return started(runs.request_training(project=project, actor=request.user,
                                             params=body.validated_data))


class TrainingRunApi(generics.RetrieveAPIView):
    """A run's status, progress 0..1, metrics and loss curve (reviewer or manager)."""

    serializer_class = TrainingRunSerializer

    def get_object(self):
        run = (TrainingRun.objects.select_related("model_version")
               .filter(pk=self.kwargs["pk"]).first())
        # A missing run answers like someone else's, so run ids don't leak.
        project_for(user=self.request.user, project_id=run.project_id if run else None,
                    at_least=Role.REVIEWER)
        return run


class ScoreApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "score"

    @extend_schema(request=ScoreRequest,
                   responses={200: ScoreAnswer,
                              409: OpenApiResponse(description="No active reward model."),
                              429: OpenApiResponse(description="Too many requests (per user; "
                                                   "see Retry-After).")},
                   description="Score responses to a prompt with the project's active model: "
                   f"at most {scoring.MAX_RESPONSES} responses of {scoring.MAX_TEXT_CHARS} "
                   f"characters each, {scoring.MAX_TOTAL_CHARS} characters in all.")
    def post(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.ANNOTATOR)
        body = ScoreRequest(data=json_body(request))
        body.is_valid(raise_exception=True)
        data = body.validated_data
        prompt = prompt_text(prompt=data.get("prompt"), messages=data.get("messages"))
        return Response(scoring.score_texts(project=project, prompt=prompt,
                                            responses=data["responses"]))


class ActiveRewardModelApi(APIView):
    @extend_schema(responses={200: ActiveRewardModelAnswer},
                   description="Which reward model is active in the project, for the ranking "
                   "page to tell annotators when a new one goes live (any member). Also "
                   "loads it in this server process ahead of the first feedback.")
    def get(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.ANNOTATOR)
        return Response(ActiveRewardModelAnswer(scoring.active_model(project=project)).data)


class ActivateRewardModelApi(APIView):
    @extend_schema(request=None,
                   responses={200: RewardModelSerializer,
                              403: OpenApiResponse(description="Not a manager of the project."),
                              404: OpenApiResponse(description="No such project or version.")},
                   description="Make this reward-model version the active one, e.g. to roll "
                   "back to an earlier version (manager; audit-logged). Activating the "
                   "active version again changes nothing.")
    def post(self, request, pk, version):
        project = project_for(user=request.user, project_id=pk, at_least=Role.MANAGER)
        found = (selectors.versions_of(project=project, kind=ModelVersion.Kind.REWARD)
                 .filter(version=version).first())
        if found is None:
            raise exceptions.NotFound(f"This project has no reward model v{version}.")
        if not found.is_active:
            found = registry.activate_version(version=found, actor=request.user)
        return Response(RewardModelSerializer(found).data)


class FeedbackApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "feedback"

    @extend_schema(responses={200: FeedbackAnswer,
                              409: OpenApiResponse(description="Not submitted yet."),
                              429: OpenApiResponse(description="Too many requests (per user; "
                                                   "see Retry-After).")},
                   description="The active model's scores of this assignment's responses "
                   "before and after one learning step on your submitted ranking (a copy of "
                   "the model; nothing is saved). Only the annotator, after submitting.")
    def get(self, request, pk):
        return Response(scoring.feedback_for(assignment_id=pk, user=request.user))
