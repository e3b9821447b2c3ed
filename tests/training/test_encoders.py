"""TextEncoder and EmbeddingCache: bucketing keeps order, the cache is hit and persists."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from training.encoders import EmbeddingCache, TextEncoder, default_encoder_path  # noqa: E402

TEXTS = ["a short one", "a much longer text " * 5, "hello", "", "middle sized text here"]


@pytest.fixture(scope="module")
def tiny(tiny_bert_dir) -> TextEncoder:
    return TextEncoder(tiny_bert_dir, max_length=64, normalize=False, layers=(1, 2), device="cpu")


def test_bucketed_embed_matches_one_by_one(tiny):
    batched = tiny.embed(TEXTS, batch_size=2)  # [5, 2 * 32], sorted into length buckets
    assert batched.shape == (len(TEXTS), 64)
    single = torch.cat([tiny.embed([t]) for t in TEXTS])
    assert torch.allclose(batched, single, atol=1e-5)


def test_identifier_depends_on_options(tiny, tiny_bert_dir):
    same = TextEncoder(tiny_bert_dir, max_length=64, normalize=False, layers=(1, 2), device="cpu")
    other = TextEncoder(tiny_bert_dir, max_length=32, normalize=False, layers=(1, 2), device="cpu")
    assert same.identifier == tiny.identifier
    assert other.identifier != tiny.identifier
    with pytest.raises(ValueError):
        TextEncoder(tiny_bert_dir, layers=(7,), device="cpu")


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
        from training.encoders import EmbeddingCache, TextEncoder
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


def test_minilm_default_encoder_embeds():
    path = default_encoder_path()
    assert (path / "config.json").is_file()
    enc = TextEncoder(device="cpu")
    assert enc.identifier.startswith("all-MiniLM-L6-v2-")
    emb = enc.embed(
        ["How do I bake bread?", "Knead flour, water, salt and yeast.", "I like trains."]
    )
    assert emb.shape == (3, 384)
    assert torch.allclose(emb.norm(dim=1), torch.ones(3), atol=1e-4)  # normalised by default
    # the answer is closer to its question than the unrelated sentence is
    assert emb[0] @ emb[1] > emb[0] @ emb[2]
    pair = enc.tokenize_pairs(["word " * 400], ["the answer"])
    assert pair["input_ids"].shape[1] == enc.max_length  # prompt was cut to fit
    ids = pair["input_ids"][0].tolist()
    assert (
        enc.tokenizer.decode(ids[-3:-1]) == "the answer" and ids[-4] == enc.tokenizer.sep_token_id
    )  # response kept whole at the end
