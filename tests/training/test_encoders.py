"""TextEncoder: bucketing keeps order, the identifier follows the options, MiniLM embeds."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from training.reward.encoders import TextEncoder, default_encoder_path  # noqa: E402

from .conftest import TEXTS  # noqa: E402


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
