"""train / evaluate on the tiny backbone: it learns a known preference, the reference stays
frozen, progress is reported and can stop a run, pair weights weight the loss."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from training.policy import evaluate, train
from training.policy.backbone import freeze


def test_dpo_learns_polite_over_rude_on_held_out_pairs(trained, held_out_pairs):
    before = evaluate(trained.policy, held_out_pairs[:1], kl_prompts=0)
    metrics = evaluate(trained.policy, held_out_pairs, kl_prompts=4, kl_tokens=8)
    assert metrics["n_pairs"] == len(held_out_pairs)
    assert metrics["rewards/accuracies"] > 0.8
    assert metrics["rewards/margins"] > 0
    assert metrics["rewards/margins"] == pytest.approx(
        metrics["rewards/chosen"] - metrics["rewards/rejected"], abs=1e-5)
    assert metrics["kl"] > 0  # the policy moved away from the reference
    assert before["kl"] == 0.0  # no prompts asked for
    assert trained.train_metrics["rewards/accuracies"] > 0.8
    assert [s for s, _ in trained.history["dpo"]] == sorted(s for s, _ in trained.history["dpo"])


def test_evaluate_refuses_no_pairs(trained):
    with pytest.raises(ValueError, match="no preference pairs"):
        evaluate(trained.policy, [])


def test_evaluate_rewards_are_beta_times_log_ratios(trained, held_out_pairs):
    policy, pairs = trained.policy, held_out_pairs[:6]
    prompts = [p.prompt for p in pairs]
    chosen = [p.chosen for p in pairs]
    ratio = policy.logps(prompts, chosen) - policy.logps(prompts, chosen, reference=True)
    metrics = evaluate(policy, pairs, beta=0.5, kl_prompts=0)
    assert metrics["rewards/chosen"] == pytest.approx(float(0.5 * ratio.mean()), rel=1e-5)


def test_reference_is_frozen_and_unchanged_by_dpo(trained, toy_pairs, tiny_config):
    start = trained.policy
    before = {k: v.clone() for k, v in start.model.state_dict().items()}
    config = dataclasses.replace(tiny_config, dpo_epochs=1)
    result = train(toy_pairs[:32], config=config, init=start)
    reference = result.policy.reference
    assert not reference.training
    assert not any(p.requires_grad for p in reference.parameters())
    after = reference.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)  # bit for bit
    policy_after = result.policy.model.state_dict()
    assert any(not torch.equal(before[k], policy_after[k]) for k in before)
    assert result.history["sft"] == []  # iterative DPO fine-tunes nothing
    assert result.policy.tokenizer is start.tokenizer


def test_reference_cache_matches_the_reference(trained, toy_pairs):
    """The first DPO step starts at zero reward: policy == reference there."""
    policy = trained.policy
    pairs = toy_pairs[:4]
    prompts, chosen = [p.prompt for p in pairs], [p.chosen for p in pairs]
    ref = policy.logps(prompts, chosen, reference=True)
    copy_of_ref = freeze(type(policy.reference)(policy.reference.config))
    copy_of_ref.load_state_dict(policy.reference.state_dict())
    saved = policy.model
    policy.model = copy_of_ref
    try:
        assert torch.allclose(policy.logps(prompts, chosen), ref)
    finally:
        policy.model = saved


def test_progress_covers_both_phases_and_can_stop(toy_pairs, tiny_config):
    seen = []
    config = dataclasses.replace(tiny_config, sft_epochs=1, dpo_epochs=1, max_steps=2)
    result = train(toy_pairs[:32], config=config, progress=lambda f, loss: seen.append((f, loss)))
    # SFT on 32 chosen + 32 rejected rows in batches of 16: four steps; DPO capped at two.
    assert len(seen) == 4 + 2
    assert [f for f, _ in seen] == sorted(f for f, _ in seen) and seen[-1][0] == 1.0
    assert all(isinstance(loss, float) for _, loss in seen)
    assert len(result.history["sft"]) == 4 and len(result.history["dpo"]) == 2

    class Stop(Exception):
        pass

    def stop(fraction, loss):
        if fraction > 0.5:
            raise Stop

    with pytest.raises(Stop):
        train(toy_pairs[:32], config=config, progress=stop)


def test_training_is_reproducible_and_weights_weigh(toy_pairs, tiny_config):
    config = dataclasses.replace(tiny_config, sft_epochs=1, dpo_epochs=1)
    pairs = toy_pairs[:32]
    probe = ([p.prompt for p in pairs[:4]], [p.chosen for p in pairs[:4]])
    a = train(pairs, config=config).policy.logps(*probe)
    b = train(pairs, config=config).policy.logps(*probe)
    assert torch.equal(a, b)
    doubled = [dataclasses.replace(p, weight=2.0) for p in pairs]  # a weighted *mean*
    assert torch.allclose(train(doubled, config=config).policy.logps(*probe), a, atol=1e-4)
    zero = [dataclasses.replace(p, weight=0.0) for p in pairs[:16]] + pairs[16:]
    assert not torch.allclose(train(zero, config=config).policy.logps(*probe), a, atol=1e-4)
