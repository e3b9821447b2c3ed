"""EmbeddingCache: the cache is hit, survives a new instance and a new process, compacts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from training.reward.embedding_cache import EmbeddingCache  # noqa: E402

from .conftest import TEXTS  # noqa: E402


def test_cache_hits_second_call_and_survives_new_instance(tiny, tmp_path):
    cache = EmbeddingCache(tmp_path)
    first = cache.get_or_compute(tiny, TEXTS + [TEXTS[0]])  # duplicate counted once
    assert cache.stats() == {"hits": 0, "misses": len(TEXTS)}
    again = cache.get_or_compute(tiny, list(reversed(TEXTS)))
    assert cache.misses == len(TEXTS) and cache.hits == len(TEXTS)
    assert torch.equal(again, first[: len(TEXTS)].flip(0))

    fresh = EmbeddingCache(tmp_path)  # a new instance reads the shards written above
    got = fresh.get_or_compute(tiny, TEXTS[:2] + ["brand new text"])
    assert fresh.misses == 1 and fresh.hits == 2
    assert torch.equal(got[:2], first[:2])
    assert ("brand new text" in [t for t in TEXTS]) is False
    assert (tiny.identifier, "brand new text") in fresh
    assert not list(Path(fresh.directory(tiny.identifier)).glob(".tmp-*"))  # no temp files left

    fresh.compact(tiny.identifier)
    assert len(list(fresh.directory(tiny.identifier).glob("shard-*"))) == 1
    assert torch.equal(EmbeddingCache(tmp_path).get_or_compute(tiny, TEXTS), first[: len(TEXTS)])


def test_cache_survives_a_new_process(tiny, tiny_bert_dir, tmp_path):
    cache = EmbeddingCache(tmp_path)
    want = cache.get_or_compute(tiny, TEXTS)
    script = textwrap.dedent(
        f"""
        import sys, torch
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from training.reward.embedding_cache import EmbeddingCache
        from training.reward.encoders import TextEncoder
        enc = TextEncoder({str(tiny_bert_dir)!r}, max_length=64, normalize=False, layers=(1, 2), device="cpu")
        enc.embed = None  # any computation would fail: everything must come from disk
        cache = EmbeddingCache({str(tmp_path)!r})
        got = cache.get_or_compute(enc, {TEXTS!r})
        torch.save(got, {str(tmp_path / "got.pt")!r})
        print(cache.hits, cache.misses)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == [str(len(TEXTS)), "0"]
    assert torch.equal(torch.load(tmp_path / "got.pt"), want)
