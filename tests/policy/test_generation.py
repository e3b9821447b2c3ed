"""Sampling: seeds fix the text, temperature 0 is greedy, max_new_tokens and the end token
bound it; a saved and loaded policy scores and samples exactly as before."""

from __future__ import annotations

import pytest
import torch

from training.policy import load, save
from training.policy.policy import nucleus

PROMPT = "User: can you tell me about my cat?"


def test_same_seed_same_text_and_seeds_differ(trained):
    policy = trained.policy
    a = policy.generate(PROMPT, seed=3, max_new_tokens=12)
    assert policy.generate(PROMPT, seed=3, max_new_tokens=12) == a
    texts = {policy.generate(PROMPT, seed=s, max_new_tokens=12, temperature=1.0)
             for s in range(6)}
    assert len(texts) > 1
    assert policy.generate_many(PROMPT, 3, seed=2, max_new_tokens=12) == [
        policy.generate(PROMPT, seed=s, max_new_tokens=12) for s in (2, 3, 4)
    ]


def test_sampling_leaves_the_global_random_state_alone(trained):
    state = torch.get_rng_state()
    trained.policy.generate(PROMPT, seed=1, max_new_tokens=4)
    assert torch.equal(torch.get_rng_state(), state)


def test_temperature_zero_is_the_greedy_path(trained):
    policy = trained.policy
    ids = policy.sample_ids(policy.encoder.prompt(PROMPT), max_new_tokens=10, temperature=0,
                            top_p=1.0, seed=0, reference=True)
    # Greedy without the KV cache: one full forward pass per token.
    context, expected = list(policy.encoder.prompt(PROMPT)), []
    with torch.no_grad():
        for _ in range(10):
            token = int(policy.reference(input_ids=torch.tensor([context])).logits[0, -1].argmax())
            expected.append(token)
            if token == policy.encoder.end_id:
                break
            context.append(token)
    assert ids == expected
    texts = {policy.generate(PROMPT, temperature=0, seed=s, max_new_tokens=10) for s in range(3)}
    assert len(texts) == 1


def test_max_new_tokens_and_the_end_token_bound_a_sample(trained):
    policy = trained.policy
    prompt_ids = policy.encoder.prompt(PROMPT)
    for n in (1, 3, 7):
        for seed in range(4):
            ids = policy.sample_ids(prompt_ids, max_new_tokens=n, temperature=1.0, top_p=1.0,
                                    seed=seed, reference=False)
            assert 1 <= len(ids) <= n
            assert policy.encoder.end_id not in ids[:-1]
    # The fine-tuned reference ends its answer, and the end token is not part of the text.
    ids = policy.sample_ids(prompt_ids, max_new_tokens=40, temperature=0, top_p=1.0, seed=0,
                            reference=True)
    assert ids[-1] == policy.encoder.end_id and len(ids) < 40
    text = policy.generate(PROMPT, temperature=0, max_new_tokens=40, reference=True)
    assert text == policy.tokenizer.decode(ids[:-1]).lstrip(" ")


def test_nucleus_keeps_the_smallest_set_reaching_top_p():
    probs = torch.tensor([0.1, 0.5, 0.3, 0.1])
    assert nucleus(probs, 0.7).tolist() == pytest.approx([0.0, 0.5, 0.3, 0.0])
    assert nucleus(probs, 0.1).tolist() == pytest.approx([0.0, 0.5, 0.0, 0.0])
    assert torch.equal(nucleus(probs, 1.0), probs)


def test_bad_sampling_options_are_refused(trained):
    with pytest.raises(ValueError, match="temperature"):
        trained.policy.generate(PROMPT, temperature=-1)
    with pytest.raises(ValueError, match="top_p"):
        trained.policy.generate(PROMPT, top_p=0)


def test_save_load_round_trip(trained, held_out_pairs, tmp_path):
    policy = trained.policy
    folder = save(trained, tmp_path)
    loaded = load(folder, device="cpu")
    prompts = [p.prompt for p in held_out_pairs[:5]]
    responses = [p.rejected for p in held_out_pairs[:5]]
    for reference in (False, True):
        assert torch.equal(loaded.logps(prompts, responses, reference=reference),
                           policy.logps(prompts, responses, reference=reference))
    for seed in range(3):
        assert loaded.generate(PROMPT, seed=seed) == policy.generate(PROMPT, seed=seed)
    assert loaded.config.to_dict() | {"device": "cpu"} == policy.config.to_dict()
    assert loaded.n_parameters == policy.n_parameters
    assert (folder / "reference").is_dir() and (folder / "metrics.json").exists()
