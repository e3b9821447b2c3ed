"""A trained reward model as a folder: ``model.safetensors`` (the head, plus the encoder's
weights when fine-tuned), ``config.json`` and ``metrics.json``. A head-only model stores no
encoder weights: ``load`` rebuilds the base encoder and refuses one that is not the encoder
the head was trained on. No Django here."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file, save_file

from .model import HeadEnsemble, RewardScorer, TrainConfig, TrainResult, build_encoder


def save(result: TrainResult | RewardScorer, directory: str | Path) -> Path:
    """Write model.safetensors (head, plus encoder weights when fine-tuned), config.json
    and metrics.json into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    scorer = result.scorer if isinstance(result, TrainResult) else result
    metrics = result.metrics if isinstance(result, TrainResult) else {}
    state = {f"head.{k}": v for k, v in scorer.head.state_dict().items()}
    if scorer.config.mode == "finetune":
        state.update({f"encoder.{k}": v for k, v in scorer.encoder.model.state_dict().items()})
    save_file(
        {k: v.detach().contiguous().cpu() for k, v in state.items()},
        str(directory / "model.safetensors"),
    )
    meta = {
        "config": scorer.config.to_dict(),
        "encoder_identifier": scorer.encoder.identifier,
        "in_dim": scorer.head.heads[0].mean.numel(),
        "format": 1,
    }
    (directory / "config.json").write_text(json.dumps(meta, indent=2, default=str))
    (directory / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float))
    return directory


def load(directory: str | Path, *, device: str | None = None) -> RewardScorer:
    """Rebuild a ``RewardScorer`` written by ``save`` (the base encoder must be available)."""
    directory = Path(directory)
    meta = json.loads((directory / "config.json").read_text())
    config = TrainConfig.from_dict(meta["config"])
    config.device = device  # None: cuda if available here, whatever trained the model
    encoder = build_encoder(config)
    state = load_file(str(directory / "model.safetensors"))
    head = HeadEnsemble(
        in_dim=meta["in_dim"], members=config.ensemble, hidden=config.hidden, dropout=config.dropout
    )
    head.load_state_dict({k[len("head.") :]: v for k, v in state.items() if k.startswith("head.")})
    enc_state = {k[len("encoder.") :]: v for k, v in state.items() if k.startswith("encoder.")}
    if enc_state:
        encoder.model.load_state_dict(enc_state)
        encoder.max_length = config.ft_max_length
        encoder.mark_modified()
    elif encoder.identifier != meta["encoder_identifier"]:
        raise ValueError(
            f"encoder changed since training: {encoder.identifier} != {meta['encoder_identifier']}"
        )
    scorer = RewardScorer(encoder=encoder, head=head.to(encoder.device), config=config)
    scorer.eval()
    return scorer
