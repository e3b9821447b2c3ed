"""A trained policy as a folder, written with ``save_pretrained`` so that any Hugging Face
tool can read it::

    config.json     {"format": 1, "config": PolicyConfig, "lora": bool, "reference_path": str | null}
    policy/         the policy (for LoRA: the adapter only, applied to the reference)
    reference/      the reference, unless reference_path names the untouched backbone folder
    tokenizer/      the tokenizer
    metrics.json    train_metrics, history and seconds when a PolicyResult was saved

A tiny-backbone folder is self-contained (a few MB). No Django here.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer

from .backbone import freeze
from .config import PolicyConfig
from .policy import Policy
from .trainer import PolicyResult, resolve_device

FORMAT = 1


def save(result_or_policy: PolicyResult | Policy, directory: str | Path) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    result = result_or_policy if isinstance(result_or_policy, PolicyResult) else None
    policy = result.policy if result else result_or_policy
    policy.model.save_pretrained(str(directory / "policy"))
    if policy.reference_path is None:
        policy.reference.save_pretrained(str(directory / "reference"))
    policy.tokenizer.save_pretrained(str(directory / "tokenizer"))
    meta = {
        "format": FORMAT,
        "config": policy.config.to_dict(),
        "lora": hasattr(policy.model, "peft_config"),
        "reference_path": policy.reference_path,
    }
    (directory / "config.json").write_text(json.dumps(meta, indent=2))
    if result is not None:
        metrics = {
            "train_metrics": result.train_metrics,
            "history": result.history,
            "seconds": result.seconds,
        }
        (directory / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return directory


def load(directory: str | Path, *, device: str | None = None) -> Policy:
    """The ``Policy`` written by ``save``, both models frozen, on ``device`` (None: cuda
    when available here, wherever it was trained)."""
    directory = Path(directory)
    meta = json.loads((directory / "config.json").read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{directory} is not a policy folder of format {FORMAT}")
    config = PolicyConfig.from_dict(meta["config"])
    config.device = device
    device = resolve_device(device)
    reference_dir = meta["reference_path"] or str(directory / "reference")
    reference = AutoModelForCausalLM.from_pretrained(reference_dir)
    if meta["lora"]:
        from peft import PeftModel

        model = PeftModel.from_pretrained(copy.deepcopy(reference), str(directory / "policy"))
    else:
        model = AutoModelForCausalLM.from_pretrained(str(directory / "policy"))
    return Policy(
        model=freeze(model).to(device),
        reference=freeze(reference).to(device),
        tokenizer=AutoTokenizer.from_pretrained(str(directory / "tokenizer")),
        config=config,
        device=device,
        reference_path=meta["reference_path"],
    )
