"""REST views of policies (DPO, RLOO, PPO): versions, training, generation, proposals, the comparison.
Thin: parse, check the role, call one service or selector, shape the answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from annotation.permissions import Role, project_for

from . import candidates, generation, policy_runs
from .api import RewardModelSerializer, TrainStarted, VersionListApi, json_body, started
from .models import ModelVersion


class PolicySerializer(RewardModelSerializer):
    """A policy version: metrics under TRL's names (``rewards/accuracies``, ...), ``kl``,
    ``win_rate``."""


class StrictSerializer(serializers.Serializer):
    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown parameter."] for name in unknown})
        return attrs


def _rl(field, **kwargs):
    """An RL trainer parameter: checked by the RL trainer's config, which names it."""
    return field(required=False, help_text="rloo / ppo only (see RLConfig).", **kwargs)


class PolicyTrainRequest(StrictSerializer):
    """Optional overrides of the project's ``settings["policy"]`` (DPO) or
    ``settings["policy"]["rl"]`` (RLOO, PPO) for one run."""

    algorithm = serializers.ChoiceField(["dpo", "rloo", "ppo"], required=False,
                                        help_text="dpo (default), or RL against the active "
                                        "reward model: rloo or ppo.")
    loss_type = serializers.ChoiceField(["sigmoid", "ipo", "hinge", "robust"], required=False,
                                        help_text="dpo only.")
    beta = serializers.FloatField(min_value=0.0, max_value=100.0, required=False,
                                  help_text="dpo: the DPO temperature (> 0); rloo / ppo: the KL "
                                  "penalty coefficient.")
    label_smoothing = serializers.FloatField(min_value=0.0, max_value=0.49, required=False,
                                             help_text="dpo only.")
    seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
    force = serializers.BooleanField(required=False,
                                     help_text="Activate even if not better than the active "
                                     "policy.")
    steps = _rl(serializers.IntegerField, min_value=1, max_value=1_000_000)
    prompts_per_step = _rl(serializers.IntegerField, min_value=1, max_value=4096)
    group_size = _rl(serializers.IntegerField, min_value=1, max_value=256)
    max_new_tokens = _rl(serializers.IntegerField, min_value=1, max_value=4096)
    temperature = _rl(serializers.FloatField, min_value=0.0, max_value=5.0)
    top_p = _rl(serializers.FloatField, min_value=0.0, max_value=1.0)
    lr = _rl(serializers.FloatField, min_value=0.0, max_value=1.0)
    weight_decay = _rl(serializers.FloatField, min_value=0.0, max_value=10.0)
    grad_clip = _rl(serializers.FloatField, min_value=0.0, max_value=1000.0)
    kl_target = _rl(serializers.FloatField, min_value=0.0, max_value=1e6, allow_null=True)
    kl_horizon = _rl(serializers.IntegerField, min_value=1, max_value=10_000_000)
    kl_estimator = _rl(serializers.ChoiceField, choices=["k1", "k3"])
    missing_eos_penalty = _rl(serializers.FloatField, min_value=0.0, max_value=1e6,
                              allow_null=True)
    clip_eps = _rl(serializers.FloatField, min_value=0.0, max_value=10.0)
    ppo_epochs = _rl(serializers.IntegerField, min_value=1, max_value=100)
    minibatches = _rl(serializers.IntegerField, min_value=1, max_value=4096)
    normalize_advantages = _rl(serializers.BooleanField)
    gamma = _rl(serializers.FloatField, min_value=0.0, max_value=1.0)
    lam = _rl(serializers.FloatField, min_value=0.0, max_value=1.0)
    vf_coef = _rl(serializers.FloatField, min_value=0.0, max_value=100.0)
    cliprange_value = _rl(serializers.FloatField, min_value=0.0, max_value=100.0)
    eval_every = _rl(serializers.IntegerField, min_value=1, max_value=1_000_000)
    patience = _rl(serializers.IntegerField, min_value=1, max_value=10_000, allow_null=True)


class GenerateRequest(StrictSerializer):
    prompt = serializers.CharField(max_length=generation.MAX_PROMPT_CHARS, trim_whitespace=False)
    max_new_tokens = serializers.IntegerField(min_value=1, max_value=generation.MAX_NEW_TOKENS,
                                              default=64)
    temperature = serializers.FloatField(min_value=0.0, max_value=5.0, default=1.0,
                                         help_text="0: greedy.")
    top_p = serializers.FloatField(min_value=0.01, max_value=1.0, default=1.0)
    seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False,
                                    allow_null=True, default=None,
                                    help_text="The same seed and parameters give the same text.")
    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False,
                                       allow_null=True, default=None,
                                       help_text="A policy version number (default: the "
                                       "active policy).")


class GenerateAnswer(serializers.Serializer):
    policy_version = serializers.CharField()
    text = serializers.CharField(allow_blank=True)


class CandidatesRequest(StrictSerializer):
    limit = serializers.IntegerField(min_value=1, max_value=candidates.BATCH, required=False,
                                     allow_null=True, default=None)


class CandidatesAnswer(serializers.Serializer):
    waiting = serializers.IntegerField(help_text="Prompts waiting for responses.")


class ComparisonRow(serializers.Serializer):
    prompt = serializers.CharField(allow_blank=True)
    reference = serializers.CharField(allow_blank=True)
    policy = serializers.CharField(allow_blank=True)
    reference_score = serializers.FloatField(allow_null=True)
    policy_score = serializers.FloatField(allow_null=True)
    winner = serializers.ChoiceField(["policy", "reference", "tie"], allow_null=True)


class ComparisonAnswer(serializers.Serializer):
    version = serializers.CharField()
    reward_model = serializers.CharField(allow_null=True)
    win_rate = serializers.FloatField(allow_null=True)
    n = serializers.IntegerField()
    rows = ComparisonRow(many=True)


class PolicyListApi(VersionListApi):
    """The project's policy versions, newest first (reviewer or manager)."""

    serializer_class = PolicySerializer
    kind = ModelVersion.Kind.POLICY


class PolicyTrainApi(APIView):
    @extend_schema(request=PolicyTrainRequest,
                   responses={202: TrainStarted,
                              400: OpenApiResponse(description="A bad parameter, named."),
                              409: OpenApiResponse(description="A policy run is queued or "
                                                   "running, or (rloo, ppo) no reward model "
                                                   "is active.")},
                   description="Queue a policy run (manager): DPO on the labels, or RL "
                   "(rloo, ppo) against the active reward model; follow it at "
                   "GET /api/v1/training-runs/{id}/. 409 while one is queued or running.")
    def post(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.MANAGER)
        body = PolicyTrainRequest(data=json_body(request))
        body.is_valid(raise_exception=True)
        return started(policy_runs.request_policy_training(
            project=project, actor=request.user, params=body.validated_data))


class GenerateApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "generate"

    @extend_schema(request=GenerateRequest,
                   responses={200: GenerateAnswer,
                              404: OpenApiResponse(description="No such policy version."),
                              409: OpenApiResponse(description="No active policy, or its files "
                                                   "cannot be read."),
                              429: OpenApiResponse(description="Too many requests (per user; "
                                                   "see Retry-After).")},
                   description="Sample an answer to a prompt from the active policy (or "
                   "`version`), reviewer or manager.")
    def post(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.REVIEWER)
        body = GenerateRequest(data=json_body(request))
        body.is_valid(raise_exception=True)
        return Response(generation.generate(project=project, **body.validated_data))


class CandidatesApi(APIView):
    @extend_schema(request=CandidatesRequest,
                   responses={202: CandidatesAnswer,
                              409: OpenApiResponse(description="No active policy.")},
                   description="Have the active policy propose responses for the prompts "
                   "imported alone (format prompts); each becomes an ordinary item (manager).")
    def post(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.MANAGER)
        body = CandidatesRequest(data=json_body(request))
        body.is_valid(raise_exception=True)
        waiting = candidates.request_candidates(project=project, actor=request.user,
                                                limit=body.validated_data["limit"])
        return Response({"waiting": waiting}, status=status.HTTP_202_ACCEPTED)


class ComparisonApi(APIView):
    @extend_schema(responses={200: ComparisonAnswer,
                              404: OpenApiResponse(description="No such policy version.")},
                   description="Held-out prompts answered by the reference and by this policy "
                   "version, scored by the active reward model, with the policy's win rate.")
    def get(self, request, pk, version):
        project = project_for(user=request.user, project_id=pk, at_least=Role.REVIEWER)
        found = generation.version_of(project=project, version=version)
        return Response(generation.comparison(version=found))
