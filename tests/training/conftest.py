"""Fixtures for the framework-free reward-model code: a tiny random BERT saved to disk
(loads in milliseconds through the same code path as any local backbone), that BERT as a
TextEncoder, and a toy, separable preference data set."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

GOOD = ["glad", "help", "happy", "sure", "kindly", "safe", "gladly", "careful", "thanks", "welcome"]
BAD = ["stupid", "hate", "idiot", "ugly", "rude", "weapon", "steal", "dumb", "awful", "nasty"]
NEUTRAL = ["the", "a", "you", "it", "is", "and", "to", "that", "this", "with", "about", "for"]
# Texts of very different lengths (one empty): embedding them in buckets must keep order.
TEXTS = ["a short one", "a much longer text " * 5, "hello", "", "middle sized text here"]


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide BERT with random weights and MiniLM's tokenizer."""
    from transformers import BertConfig, BertModel

    from training.reward.encoders import default_encoder_path

    path = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(str(path))
    src = default_encoder_path()
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (src / name).exists():
            shutil.copy(src / name, path / name)
    return path


@pytest.fixture(scope="session")
def tiny(tiny_bert_dir):
    """The tiny BERT as a TextEncoder pooling two hidden states: [N, 2 * 32]."""
    from training.reward.encoders import TextEncoder

    return TextEncoder(tiny_bert_dir, max_length=64, normalize=False, layers=(1, 2), device="cpu")


def _sentence(rng: random.Random, words: list[str]) -> str:
    body = [rng.choice(NEUTRAL) for _ in range(rng.randint(3, 6))] + [
        rng.choice(words) for _ in range(2)
    ]
    rng.shuffle(body)
    return " ".join(body)


@pytest.fixture(scope="session")
def toy_comparisons():
    """60 items: the response made of GOOD words always wins over the BAD one."""
    from training.reward import Comparison

    rng = random.Random(0)
    out = []
    for i in range(60):
        good, bad = _sentence(rng, GOOD), _sentence(rng, BAD)
        if rng.random() < 0.5:
            responses, ranking = [good, bad], [[0], [1]]
        else:
            responses, ranking = [bad, good], [[1], [0]]
        out.append(
            Comparison(
                item_id=i,
                prompt=f"Human: question {i}?\n\nAssistant:",
                responses=responses,
                ranking=ranking,
            )
        )
    return out
