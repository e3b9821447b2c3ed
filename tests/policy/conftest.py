"""Fixtures for the framework-free DPO code: a toy preference with a known rule (the polite
answer beats the rude one), a tiny configuration that trains in seconds, one trained tiny
policy shared by the tests that only read it, and a random tiny Hugging Face causal LM
saved to disk (loads through the same code path as any local backbone)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

TOPICS = ["the weather", "my garden", "a recipe", "the train", "my homework", "a movie",
          "the museum", "my bike", "the library", "a song", "my cat", "the beach"]
POLITE = ["Sure, I would be glad to help with", "Thank you for asking about",
          "Happy to explain", "Of course, here is a kind note on"]
RUDE = ["Ugh, stop bothering me with", "That is a stupid question about",
        "Go away, I hate talking about", "Nobody cares about"]
ENDINGS = ["today.", "right now.", "for you.", "in short.", "as asked."]

TINY = {
    "vocab_size": 400,
    "d_model": 32,
    "n_layers": 2,
    "n_heads": 2,
    "d_ff": 64,
    "max_prompt_tokens": 24,
    "max_response_tokens": 16,
    "sft_epochs": 8,
    "sft_lr": 1e-2,
    "dpo_epochs": 3,
    "dpo_lr": 3e-3,
    "batch_size": 16,
    "warmup_steps": 2,
    "device": "cpu",
}


def make_pairs(n: int, seed: int, offset: int = 0):
    from training.policy import PreferencePair

    rng = random.Random(seed)
    out = []
    for i in range(n):
        topic = rng.choice(TOPICS)
        ending = rng.choice(ENDINGS)
        out.append(
            PreferencePair(
                item_id=offset + i,
                prompt=f"User: can you tell me about {topic}?",
                chosen=f"{rng.choice(POLITE)} {topic} {ending}",
                rejected=f"{rng.choice(RUDE)} {topic} {ending}",
            )
        )
    return out


@pytest.fixture(scope="session", autouse=True)
def two_threads():
    torch.set_num_threads(1)  # tiny matrices: a second thread costs more than it gives


@pytest.fixture(scope="session")
def toy_pairs():
    """96 training pairs."""
    return make_pairs(96, seed=0)


@pytest.fixture(scope="session")
def held_out_pairs():
    """40 pairs drawn independently of the training pairs."""
    return make_pairs(40, seed=1, offset=1000)


@pytest.fixture(scope="session")
def tiny_config():
    from training.policy import PolicyConfig

    return PolicyConfig.from_dict(TINY)


@pytest.fixture(scope="session")
def trained(toy_pairs, tiny_config):
    """One PolicyResult of the tiny backbone on the toy pairs (read-only for tests)."""
    from training.policy import train

    return train(toy_pairs, config=tiny_config)


@pytest.fixture(scope="session")
def tiny_hf_dir(tmp_path_factory, toy_pairs) -> Path:
    """A random 1-layer GPT-2 with a small BPE tokenizer, saved as a local HF folder."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from training.policy.backbone import build_tokenizer

    path = tmp_path_factory.mktemp("tiny-gpt2")
    texts = [p.prompt + " " + r for p in toy_pairs for r in (p.chosen, p.rejected)]
    tokenizer = build_tokenizer(texts, 400)
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=128,
        n_embd=32,
        n_layer=1,
        n_head=2,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    GPT2LMHeadModel(config).save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return path
