"""An on-disk embedding cache, so that a frozen-encoder reward head retrains in seconds.

Embeddings are stored by (encoder identifier, sha256(text)): the identifier changes
whenever the embeddings could (see ``TextEncoder.identifier``), so a cached vector is
never served for the wrong model. No Django here.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor


class Embedder(Protocol):
    """What the cache needs from an encoder (TextEncoder, or a test double)."""

    identifier: str
    dim: int

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> Tensor: ...


def text_key(text: str) -> bytes:
    """32-byte sha256 of the UTF-8 text: the cache key of one text."""
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingCache:
    """On-disk embedding cache: ``root/<encoder identifier>/shard-<uuid>.safetensors``.

    Each shard holds ``keys`` uint8 [n, 32] (sha256 of each text) and ``embeddings``
    float32 [n, D]. Shards are append-only and written atomically (temp file in the same
    folder, then ``os.replace``), so two processes can write at once: the worst case is
    that both compute the same texts and the lookup keeps the first one seen. The index
    (key -> shard, row) lives in memory and is rebuilt from the shards' ``keys`` tensors,
    re-scanning the folder when it has new shards.

    ``hits`` / ``misses`` count texts (after de-duplication) over this instance's life.
    """

    SHARD_GLOB = "shard-*.safetensors"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        # per encoder identifier: key -> (shard path, row), and shards already indexed
        self._index: dict[str, dict[bytes, tuple[Path, int]]] = {}
        self._seen_shards: dict[str, set[Path]] = {}
        self._loaded: dict[Path, Tensor] = {}  # shard path -> embeddings [n, D]

    @staticmethod
    def _safe(identifier: str) -> str:
        return re.sub(r"[^A-Za-z0-9._-]+", "_", identifier)

    def directory(self, identifier: str) -> Path:
        return self.root / self._safe(identifier)

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses}

    # -- index --------------------------------------------------------------------------

    def _refresh(self, identifier: str) -> dict[bytes, tuple[Path, int]]:
        index = self._index.setdefault(identifier, {})
        seen = self._seen_shards.setdefault(identifier, set())
        folder = self.directory(identifier)
        if not folder.is_dir():
            return index
        for shard in sorted(folder.glob(self.SHARD_GLOB)):
            if shard in seen:
                continue
            with safe_open(str(shard), framework="pt") as f:
                keys = f.get_tensor("keys")  # uint8 [n, 32]
            raw = keys.numpy().tobytes()  # n * 32 bytes
            for row in range(keys.shape[0]):
                index.setdefault(raw[32 * row : 32 * row + 32], (shard, row))
            seen.add(shard)
        return index

    def _rows(self, locations: Sequence[tuple[Path, int]]) -> Tensor:
        """Gather embeddings [len(locations), D] from the shards."""
        by_shard: dict[Path, list[tuple[int, int]]] = {}
        for out_row, (shard, row) in enumerate(locations):
            by_shard.setdefault(shard, []).append((out_row, row))
        out: Tensor | None = None
        for shard, pairs in by_shard.items():
            if shard not in self._loaded:
                self._loaded[shard] = load_file(str(shard))["embeddings"]
            emb = self._loaded[shard]  # [n, D]
            if out is None:
                out = torch.empty((len(locations), emb.shape[1]), dtype=torch.float32)
            dst = torch.tensor([p[0] for p in pairs])
            src = torch.tensor([p[1] for p in pairs])
            out[dst] = emb[src].float()
        assert out is not None
        return out

    def __contains__(self, item: tuple[str, str]) -> bool:
        identifier, text = item
        return text_key(text) in self._refresh(identifier)

    # -- public API -----------------------------------------------------------------------

    def put(self, identifier: str, keys: Sequence[bytes], embeddings: Tensor) -> Path | None:
        """Append one shard (keys: 32-byte sha256 digests, embeddings [n, D]) atomically."""
        if len(keys) == 0:
            return None
        assert embeddings.ndim == 2 and embeddings.shape[0] == len(keys)
        folder = self.directory(identifier)
        folder.mkdir(parents=True, exist_ok=True)
        key_tensor = torch.frombuffer(bytearray(b"".join(keys)), dtype=torch.uint8).view(
            len(keys), 32
        )
        final = folder / f"shard-{uuid.uuid4().hex}.safetensors"
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".safetensors")
        os.close(fd)
        try:
            save_file(
                {
                    "keys": key_tensor.contiguous(),
                    "embeddings": embeddings.float().contiguous().cpu(),
                },
                tmp,
                metadata={"identifier": identifier},
            )
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; let other users of the cache read it
            os.replace(tmp, final)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return final

    def get_or_compute(
        self, encoder: Embedder, texts: Sequence[str], *, batch_size: int = 64
    ) -> Tensor:
        """Embeddings [N, D] for ``texts`` (in order), computing and storing only the missing ones."""
        texts = list(texts)
        identifier = encoder.identifier
        with self._lock:
            index = self._refresh(identifier)
            keys = [text_key(t) for t in texts]
            unique: dict[bytes, str] = {}
            for k, t in zip(keys, texts, strict=True):
                unique.setdefault(k, t)
            missing = [k for k in unique if k not in index]
            self.hits += len(unique) - len(missing)
            self.misses += len(missing)
            if missing:
                new = encoder.embed([unique[k] for k in missing], batch_size=batch_size)  # [m, D]
                shard = self.put(identifier, missing, new)
                assert shard is not None
                self._seen_shards[identifier].add(shard)
                self._loaded[shard] = new.float().cpu()
                for row, k in enumerate(missing):
                    index.setdefault(k, (shard, row))
            if not texts:
                return torch.zeros((0, encoder.dim), dtype=torch.float32)
            return self._rows([index[k] for k in keys])

    def compact(self, identifier: str) -> None:
        """Merge all shards of one encoder into one (optional housekeeping)."""
        with self._lock:
            index = self._refresh(identifier)
            if len(self._seen_shards.get(identifier, ())) <= 1:
                return
            keys = list(index)
            emb = self._rows([index[k] for k in keys])
            old = set(self._seen_shards[identifier])
            new_shard = self.put(identifier, keys, emb)
            for shard in old:
                shard.unlink(missing_ok=True)
                self._loaded.pop(shard, None)
            self._index.pop(identifier, None)
            self._seen_shards.pop(identifier, None)
            if new_shard is not None:
                self._refresh(identifier)
