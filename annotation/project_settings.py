"""A project's settings as a type: dataclasses with defaults, strict keys and types.

``Project.settings`` is stored as the JSON object a manager sent. It is parsed once into a
:class:`ProjectSettings` and read through attributes, never ``raw.get(...)`` with a fallback:

    settings = project_settings(project)
    settings.reward_model.min_new_comparisons

Writes are strict: :meth:`ProjectSettings.parse` raises one :class:`InvalidSettings` naming
every bad key (``settings.reward_model.epocs: unknown key``). Reads of what is already
stored are lenient (:meth:`ProjectSettings.read`): a value stored before these rules existed
that they reject is ignored with a warning and its default used, which is how the readers
behaved before, so old projects keep working.

The trainer's own parameters (``reward_model.mode``, ``epochs``, ``lr``...) are declared here
too, so a typo is caught when it is written; the training app checks that this list and its
trainer's config never drift apart. Only the ones a manager set are passed on
(:meth:`RewardModelSettings.trainer_params`); the rest keep the trainer's defaults.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rankwise.errors import ValidationFailed

log = logging.getLogger(__name__)

DEFAULT_FLAGS = ("harmful", "factually_wrong", "refusal", "unsure", "other")
MAX_FLAGS = 50
MAX_FLAG_CHARS = 64


def setting(default: Any = None, *, min: float | None = None, max: float | None = None,
            choices: tuple | None = None, min_items: int = 0, max_items: int | None = None,
            max_chars: int | None = None, doc: str = "") -> Any:
    """A dataclass field with the bounds its value must keep."""
    meta = {"min": min, "max": max, "choices": choices, "min_items": min_items,
            "max_items": max_items, "max_chars": max_chars, "doc": doc}
    if isinstance(default, (list, dict, set)):
        raise TypeError("use a tuple or a section class as the default")
    if dataclasses.is_dataclass(default) and isinstance(default, type):
        return field(default_factory=default, metadata=meta)
    return field(default=default, metadata=meta)


class InvalidSettings(ValidationFailed):
    """Settings that break the rules; ``errors`` name each bad key."""


class Section:
    """A group of settings; subclasses are frozen dataclasses."""

    @classmethod
    def parse(cls, raw: Any, *, path: str = "settings", strict: bool = True):
        errors: list[dict[str, str]] = []
        value = _parse_section(cls, raw, path, errors)
        if errors and strict:
            raise InvalidSettings(errors=errors)
        for error in errors:
            _warn_once(f"ignoring stored setting {error['field']}: {error['message']}")
        return value

    @classmethod
    def read(cls, raw: Any, *, path: str = "settings"):
        return cls.parse(raw, path=path, strict=False)

    def given(self) -> frozenset[str]:
        """The keys that were set explicitly (the rest are defaults)."""
        return self.__dict__.get("_given", frozenset())

    def given_values(self, names) -> dict[str, Any]:
        """Those of ``names`` set explicitly to something other than None."""
        return {name: getattr(self, name) for name in names
                if name in self.given() and getattr(self, name) is not None}


@dataclass(frozen=True)
class QualificationSettings(Section):
    required: int = setting(0, min=0, max=1000,
                            doc="practice gold items answered before real tasks open")
    min_accuracy: float = setting(0.8, min=0.0, max=1.0,
                                  doc="accuracy over the last `required` practice answers")


# The trainer's parameters (training/reward: TrainConfig); None = the trainer's default.
TRAINER_PARAMETERS = {
    "mode": setting(None, choices=("head", "finetune")),
    "encoder_path": setting(None, max_chars=4096),
    "max_length": setting(None, min=8, max=8192),
    "layers": setting(None, min=0, max=256, max_items=64),
    "length_features": setting(None),
    "prompt_features": setting(None),
    "prompt_chars": setting(None, min=0, max=100_000),
    "loss": setting(None, choices=("all_pairs", "plackett_luce")),
    "tie_weight": setting(None, min=0.0),
    "margin_scale": setting(None, min=0.0),
    "centering": setting(None, min=0.0),
    "hidden": setting(None, min=0, max=65_536),
    "dropout": setting(None, min=0.0, max=0.99),
    "l2": setting(None, min=0.0),
    "lr": setting(None, min=1e-8, max=1.0),
    "epochs": setting(None, min=1, max=1000),
    "max_steps": setting(None, min=1, max=10_000_000),
    "batch_size": setting(None, min=1, max=65_536),
    "ensemble": setting(None, min=1, max=64),
    "ft_epochs": setting(None, min=1, max=1000),
    "ft_lr": setting(None, min=1e-10, max=1.0),
    "ft_head_lr": setting(None, min=1e-10, max=1.0),
    "ft_batch_size": setting(None, min=1, max=4096),
    "ft_max_length": setting(None, min=8, max=8192),
    "ft_weight_decay": setting(None, min=0.0, max=1.0),
    "ft_warmup": setting(None, min=0.0, max=1.0),
    "embed_batch_size": setting(None, min=1, max=4096),
    "device": setting(None, max_chars=64),
}


@dataclass(frozen=True)
class RewardModelSettings(Section):
    auto: bool = setting(False, doc="let the scheduler train when enough new labels arrived")
    interval_minutes: float = setting(60, min=0, doc="at most one scheduled run per interval")
    min_new_comparisons: int = setting(200, min=0, doc="new annotations needed since the last run")
    min_improvement: float = setting(0.0, min=-1.0, max=1.0,
                                     doc="eval accuracy a new model must gain over the active one")
    eval_fraction: float = setting(0.2, min=0.01, max=0.9,
                                   doc="share of items held out (split by item)")
    seed: int = setting(0, min=0, max=2**31 - 1)
    stale_minutes: float = setting(120, min=1, doc="a running run silent this long lost its worker")
    feedback_lr: float | None = setting(None, min=1e-8, max=10.0,
                                        doc="learning rate of the 'watch it learn' step")
    mode: str | None = TRAINER_PARAMETERS["mode"]
    encoder_path: str | None = TRAINER_PARAMETERS["encoder_path"]
    max_length: int | None = TRAINER_PARAMETERS["max_length"]
    layers: tuple[int, ...] | None = TRAINER_PARAMETERS["layers"]
    length_features: bool | None = TRAINER_PARAMETERS["length_features"]
    prompt_features: bool | None = TRAINER_PARAMETERS["prompt_features"]
    prompt_chars: int | None = TRAINER_PARAMETERS["prompt_chars"]
    loss: str | None = TRAINER_PARAMETERS["loss"]
    tie_weight: float | None = TRAINER_PARAMETERS["tie_weight"]
    margin_scale: float | None = TRAINER_PARAMETERS["margin_scale"]
    centering: float | None = TRAINER_PARAMETERS["centering"]
    hidden: int | None = TRAINER_PARAMETERS["hidden"]
    dropout: float | None = TRAINER_PARAMETERS["dropout"]
    l2: float | None = TRAINER_PARAMETERS["l2"]
    lr: float | None = TRAINER_PARAMETERS["lr"]
    epochs: int | None = TRAINER_PARAMETERS["epochs"]
    max_steps: int | None = TRAINER_PARAMETERS["max_steps"]
    batch_size: int | None = TRAINER_PARAMETERS["batch_size"]
    ensemble: int | None = TRAINER_PARAMETERS["ensemble"]
    ft_epochs: int | None = TRAINER_PARAMETERS["ft_epochs"]
    ft_lr: float | None = TRAINER_PARAMETERS["ft_lr"]
    ft_head_lr: float | None = TRAINER_PARAMETERS["ft_head_lr"]
    ft_batch_size: int | None = TRAINER_PARAMETERS["ft_batch_size"]
    ft_max_length: int | None = TRAINER_PARAMETERS["ft_max_length"]
    ft_weight_decay: float | None = TRAINER_PARAMETERS["ft_weight_decay"]
    ft_warmup: float | None = TRAINER_PARAMETERS["ft_warmup"]
    embed_batch_size: int | None = TRAINER_PARAMETERS["embed_batch_size"]
    device: str | None = TRAINER_PARAMETERS["device"]

    def trainer_params(self) -> dict[str, Any]:
        """The trainer parameters a manager set (``seed`` and ``eval_fraction`` always:
        they define the run's split), as a plain dict for the trainer's config."""
        params = self.given_values(TRAINER_PARAMETERS)
        if "layers" in params:
            params["layers"] = list(params["layers"])
        return {**params, "seed": self.seed, "eval_fraction": self.eval_fraction}


CONSENSUS_METHODS = ("majority", "bradley_terry", "dawid_skene")


@dataclass(frozen=True)
class QualitySettings(Section):
    """Agreement, consensus, annotator trust and review (README "Label quality")."""

    consensus: str = setting("majority", choices=CONSENSUS_METHODS,
                             doc="the consensus method training, export and review read")
    flag_below_trust: float = setting(0.5, min=0.0, max=1.0,
                                      doc="annotators whose trust is lower are flagged")
    pause_below_trust: float | None = setting(
        None, min=0.0, max=1.0, doc="pause annotators whose trust falls below this (None: never)")
    min_labels: int = setting(20, min=1, max=100_000,
                              doc="labels an annotator needs before trust is judged")
    cohen_min_units: int = setting(20, min=1, max=1_000_000,
                                   doc="shared pair units an annotator pair needs in the κ matrix")
    review_below_agreement: float = setting(
        0.6, min=0.0, max=1.0, doc="items whose human agreement is lower are queued for review")
    review_below_confidence: float = setting(
        0.6, min=0.0, max=1.0, doc="items whose consensus confidence is lower are queued")
    bootstrap_samples: int = setting(500, min=0, max=10_000,
                                     doc="resamples of items behind each confidence interval")
    debounce_seconds: float = setting(30, min=0, max=3600,
                                      doc="at most one recompute of consensus and trust "
                                      "per project this often")


@dataclass(frozen=True)
class ExportSettings(Section):
    """Dataset export settings (README "Datasets out")."""

    license: str = setting("other", max_chars=64,
                           doc="the license a snapshot's dataset card names (a Hugging Face "
                           "license id such as cc-by-4.0, or 'other')")


# The DPO trainer's own parameters (training.policy.PolicyConfig; a test keeps the two
# lists equal). None: the trainer's default.
POLICY_TRAINER_PARAMETERS = {
    "backbone": setting(None, max_chars=4096),
    "lora": setting(None),
    "lora_r": setting(None, min=1, max=1024),
    "lora_alpha": setting(None, min=1, max=4096),
    "loss_type": setting(None, choices=("sigmoid", "ipo", "hinge", "robust")),
    "beta": setting(None, min=1e-4, max=100.0),
    "label_smoothing": setting(None, min=0.0, max=0.49),
    "device": setting(None, max_chars=64),
    "vocab_size": setting(None, min=260, max=200_000),
    "d_model": setting(None, min=8, max=8192),
    "n_layers": setting(None, min=1, max=128),
    "n_heads": setting(None, min=1, max=128),
    "d_ff": setting(None, min=8, max=32768),
    "max_prompt_tokens": setting(None, min=1, max=32768),
    "max_response_tokens": setting(None, min=1, max=32768),
    "sft_epochs": setting(None, min=0, max=1000),
    "sft_lr": setting(None, min=1e-8, max=1.0),
    "sft_on_prompt": setting(None),
    "sft_on_rejected": setting(None),
    "dpo_epochs": setting(None, min=1, max=1000),
    "dpo_lr": setting(None, min=1e-8, max=1.0),
    "batch_size": setting(None, min=1, max=4096),
    "max_steps": setting(None, min=1, max=10_000_000),
    "warmup_steps": setting(None, min=0, max=1_000_000),
    "weight_decay": setting(None, min=0.0, max=10.0),
    "grad_clip": setting(None, min=0.0, max=1000.0),
}


# RL runs (README "Policies"): the algorithm, where they start, and the RL trainer's
# parameters (training.policy.rl.RLConfig less algorithm and seed; a test keeps the lists
# equal) as (type, min, max), None: the trainer's default.
_RL_BOUNDS = {
    "steps": (int, 1, 10**6), "prompts_per_step": (int, 1, 4096), "group_size": (int, 1, 256),
    "max_new_tokens": (int, 1, 4096), "temperature": (float, 1e-3, 5), "top_p": (float, .01, 1),
    "lr": (float, 1e-10, 1), "weight_decay": (float, 0, 10), "grad_clip": (float, 0, 1000),
    "beta": (float, 0, 100), "kl_target": (float, 1e-6, 1e6), "kl_horizon": (int, 1, 10**7),
    "kl_estimator": (str, None, None), "missing_eos_penalty": (float, 0, 1e6),
    "clip_eps": (float, 1e-6, 10), "ppo_epochs": (int, 1, 100), "minibatches": (int, 1, 4096),
    "normalize_advantages": (bool, None, None), "gamma": (float, 0, 1), "lam": (float, 0, 1),
    "vf_coef": (float, 0, 100), "cliprange_value": (float, 1e-6, 100),
    "eval_every": (int, 1, 10**6), "patience": (int, 1, 10**4)}
RL_TRAINER_PARAMETERS = {name: setting(None, min=lo, max=hi, choices=(
    ("k1", "k3") if name == "kl_estimator" else None)) for name, (_, lo, hi) in _RL_BOUNDS.items()}
RLSettings = dataclasses.make_dataclass("RLSettings", [
    ("algorithm", str, setting("rloo", choices=("rloo", "ppo"), doc="RL runs' default")),
    ("reuse_reference", bool, setting(False, doc="start from the active policy's reference")),
    *((name, kind | None, RL_TRAINER_PARAMETERS[name]) for name, (kind, _, _) in
      _RL_BOUNDS.items())], bases=(Section,), frozen=True)


@dataclass(frozen=True)
class PolicySettings(Section):
    """DPO policy training and proposals (README "Policies")."""

    auto: bool = setting(False, doc="let the scheduler train a policy when enough new labels "
                         "arrived")
    interval_minutes: float = setting(360, min=0, doc="at most one scheduled policy run per "
                                      "interval")
    min_new_comparisons: int = setting(500, min=0, doc="new annotations needed since the last "
                                       "policy run")
    min_improvement: float = setting(0.0, min=-1.0, max=1.0, doc="held-out rewards/accuracies "
                                     "a new policy must gain over the active one")
    eval_fraction: float = setting(0.1, min=0.01, max=0.9, doc="share of items held out (split "
                                   "by item)")
    seed: int = setting(0, min=0, max=2**31 - 1)
    stale_minutes: float = setting(240, min=1, doc="a running policy run silent this long lost "
                                   "its worker")
    iterative: bool = setting(False, doc="start each run from the active policy, which becomes "
                              "the reference (iterative DPO)")
    propose: bool = setting(False, doc="the active policy writes responses for imported "
                            "prompts, which then enter the annotation queue")
    candidates: int | None = setting(None, min=2, max=16, doc="responses proposed per prompt "
                                     "(None: the project's K)")
    max_new_tokens: int = setting(96, min=1, max=1024, doc="length of proposed responses")
    temperature: float = setting(1.0, min=0.0, max=5.0, doc="sampling temperature of proposals")
    top_p: float = setting(0.95, min=0.01, max=1.0, doc="nucleus sampling of proposals")
    comparison_prompts: int = setting(16, min=0, max=200, doc="held-out prompts the reference "
                                      "and the policy answer after each run")
    rl_after_reward_model: bool = setting(False, doc="queue an RL run each time a new reward "
                                          "model becomes active")
    rl: RLSettings = setting(RLSettings)
    backbone: str | None = POLICY_TRAINER_PARAMETERS["backbone"]
    lora: bool | None = POLICY_TRAINER_PARAMETERS["lora"]
    lora_r: int | None = POLICY_TRAINER_PARAMETERS["lora_r"]
    lora_alpha: int | None = POLICY_TRAINER_PARAMETERS["lora_alpha"]
    loss_type: str | None = POLICY_TRAINER_PARAMETERS["loss_type"]
    beta: float | None = POLICY_TRAINER_PARAMETERS["beta"]
    label_smoothing: float | None = POLICY_TRAINER_PARAMETERS["label_smoothing"]
    device: str | None = POLICY_TRAINER_PARAMETERS["device"]
    vocab_size: int | None = POLICY_TRAINER_PARAMETERS["vocab_size"]
    d_model: int | None = POLICY_TRAINER_PARAMETERS["d_model"]
    n_layers: int | None = POLICY_TRAINER_PARAMETERS["n_layers"]
    n_heads: int | None = POLICY_TRAINER_PARAMETERS["n_heads"]
    d_ff: int | None = POLICY_TRAINER_PARAMETERS["d_ff"]
    max_prompt_tokens: int | None = POLICY_TRAINER_PARAMETERS["max_prompt_tokens"]
    max_response_tokens: int | None = POLICY_TRAINER_PARAMETERS["max_response_tokens"]
    sft_epochs: int | None = POLICY_TRAINER_PARAMETERS["sft_epochs"]
    sft_lr: float | None = POLICY_TRAINER_PARAMETERS["sft_lr"]
    sft_on_prompt: bool | None = POLICY_TRAINER_PARAMETERS["sft_on_prompt"]
    sft_on_rejected: bool | None = POLICY_TRAINER_PARAMETERS["sft_on_rejected"]
    dpo_epochs: int | None = POLICY_TRAINER_PARAMETERS["dpo_epochs"]
    dpo_lr: float | None = POLICY_TRAINER_PARAMETERS["dpo_lr"]
    batch_size: int | None = POLICY_TRAINER_PARAMETERS["batch_size"]
    max_steps: int | None = POLICY_TRAINER_PARAMETERS["max_steps"]
    warmup_steps: int | None = POLICY_TRAINER_PARAMETERS["warmup_steps"]
    weight_decay: float | None = POLICY_TRAINER_PARAMETERS["weight_decay"]
    grad_clip: float | None = POLICY_TRAINER_PARAMETERS["grad_clip"]

    def trainer_params(self) -> dict[str, Any]:
        """The trainer parameters a manager set, plus ``seed`` and ``eval_fraction``."""
        params = self.given_values(POLICY_TRAINER_PARAMETERS)
        return {**params, "seed": self.seed, "eval_fraction": self.eval_fraction}


@dataclass(frozen=True)
class AnnotationSettings(Section):
    """What annotators may do with labels they sent (README "History and revisions")."""

    allow_revisions: bool = setting(True, doc="annotators may revise their own labels")
    revision_window_hours: float = setting(
        0, min=0, max=100_000, doc="hours after the first submit a label may be revised (0: "
        "no limit)")


@dataclass(frozen=True)
class JudgesSettings(Section):
    """AI judges (README "Where AI labels count"). AI labels never count as a person's:
    overlap, agreement, annotator trust and gold accuracy never read them. These two
    switches let them vote where a manager chooses; an export's or the item view's
    ``source=`` overrides the first per request."""

    in_consensus: bool = setting(
        False, doc="AI labels vote in each item's consensus (the stored consensus, the "
        "consensus export and the item view)")
    in_training: bool = setting(False, doc="reward models and policies also learn from AI "
                                "labels")


@dataclass(frozen=True)
class ProjectSettings(Section):
    flags: tuple[str, ...] = setting(DEFAULT_FLAGS, min_items=1, max_items=MAX_FLAGS,
                                     max_chars=MAX_FLAG_CHARS,
                                     doc="flags annotators may attach to a label")
    active_learning: bool = setting(False, doc="order open items by the reward model's "
                                    "uncertainty")
    qualification: QualificationSettings = setting(QualificationSettings)
    reward_model: RewardModelSettings = setting(RewardModelSettings)
    quality: QualitySettings = setting(QualitySettings)
    export: ExportSettings = setting(ExportSettings)
    policy: PolicySettings = setting(PolicySettings)
    judges: JudgesSettings = setting(JudgesSettings)
    annotation: AnnotationSettings = setting(AnnotationSettings)


def project_settings(project) -> ProjectSettings:
    """The typed settings of a project (anything with a ``settings`` JSON attribute)."""
    return ProjectSettings.read(getattr(project, "settings", None))


def validate_settings(raw: Any) -> dict[str, Any]:
    """Check settings about to be stored; returns them unchanged or raises
    :class:`InvalidSettings` naming every bad key."""
    ProjectSettings.parse(raw)
    return raw


# --- parsing ------------------------------------------------------------------------------

_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _parse_section(cls: type, raw: Any, path: str, errors: list[dict[str, str]]):
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        errors.append({"field": path, "message": "must be a JSON object"})
        raw = {}
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = _hints(cls)
    values: dict[str, Any] = {}
    given = []
    for key, value in raw.items():
        where = f"{path}.{key}"
        if key not in fields:
            errors.append({"field": where, "message": "unknown key"})
            continue
        checked = _check(value, hints[key], fields[key].metadata, where, errors)
        if checked is not _INVALID:
            values[key] = checked
            given.append(key)
    section = cls(**values)
    object.__setattr__(section, "_given", frozenset(given))
    return section


_INVALID = object()


def _check(value: Any, hint: Any, meta: Mapping[str, Any], where: str,
           errors: list[dict[str, str]]) -> Any:
    before = len(errors)

    def bad(message: str):
        errors.append({"field": where, "message": message})
        return _INVALID

    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None:
        return None if type(None) in options else bad("must not be null")
    kind = next(t for t in options if t is not type(None))
    if isinstance(kind, type) and issubclass(kind, Section):
        # Its bad keys are dropped inside; a lenient read keeps the good ones.
        return _parse_section(kind, value, where, errors)
    if typing.get_origin(kind) is tuple:
        item_kind = typing.get_args(kind)[0]
        if not isinstance(value, list):
            return bad(f"must be a list of {_name(item_kind)}")
        if len(value) < meta["min_items"]:
            return bad(f"must have at least {meta['min_items']} entries")
        if meta["max_items"] is not None and len(value) > meta["max_items"]:
            return bad(f"must have at most {meta['max_items']} entries")
        items = [_scalar(v, item_kind, meta, f"{where}[{i}]", errors)
                 for i, v in enumerate(value)]
        if len(errors) > before:
            return _INVALID
        if len(set(items)) != len(items):
            return bad("must not repeat an entry")
        return tuple(items)
    checked = _scalar(value, kind, meta, where, errors)
    return checked if len(errors) == before else _INVALID


def _scalar(value: Any, kind: type, meta: Mapping[str, Any], where: str,
            errors: list[dict[str, str]]) -> Any:
    def bad(message: str):
        errors.append({"field": where, "message": message})
        return _INVALID

    if kind is bool:
        return value if isinstance(value, bool) else bad("must be true or false")
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return bad("must be an integer")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return bad("must be a number")
        if not math.isfinite(value):
            return bad("must be a finite number")
    elif kind is str:
        if not isinstance(value, str):
            return bad("must be a string")
        if not value.strip():
            return bad("must not be blank")
        if meta["max_chars"] is not None and len(value) > meta["max_chars"]:
            return bad(f"must be at most {meta['max_chars']} characters")
    if meta["choices"] is not None and value not in meta["choices"]:
        return bad("must be one of " + ", ".join(repr(c) for c in meta["choices"]))
    if meta["min"] is not None and kind in (int, float) and value < meta["min"]:
        return bad(f"must be at least {meta['min']:g}")
    if meta["max"] is not None and kind in (int, float) and value > meta["max"]:
        return bad(f"must be at most {meta['max']:g}")
    return value


def _name(kind: type) -> str:
    return {int: "integers", float: "numbers", str: "strings", bool: "booleans"}[kind]


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    # Stored settings are read on every claim; say each problem once per process.
    if message not in _WARNED and len(_WARNED) < 1000:
        _WARNED.add(message)
        log.warning(message)
