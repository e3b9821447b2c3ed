"""RL on the tiny backbone with a toy reward, the number of times the word "you" appears
in a completion: with no KL penalty RLOO and PPO both learn to say it (reward up, KL to
the reference up); a large β keeps the policy near its reference; the reference never
changes; the adaptive β moves toward its target; completions that never end are
penalised; the checkpoint kept is the one with the best held-out score."""

from __future__ import annotations

import pytest
import torch

from tests.policy.conftest import TINY, make_pairs
from training.policy import PolicyConfig, train
from training.policy.rl import RLConfig, clipped_sequence_loss, token_logps, train_rl
from training.policy.rl.rollout import rollout
from training.policy.rl.trainer import Checkpoints, evaluate_checkpoint

WORD = "you"
FAST = {"steps": 30, "max_new_tokens": 16, "lr": 3e-3, "eval_every": 10, "beta": 0.0,
        "kl_target": None}


def count_word(prompts: list[str], completions: list[str]) -> list[float]:
    return [float(c.split().count(WORD)) for c in completions]


def rl_config(**overrides) -> RLConfig:
    return RLConfig.from_dict({**FAST, **overrides})


def state(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def grads(model) -> list:
    return [None if p.grad is None else p.grad.clone() for p in model.parameters()]


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def sft():
    """A tiny policy fine-tuned on the polite / rude answers (no DPO): its model is a
    trainable copy of the frozen reference."""
    return train(
        make_pairs(96, seed=0), config=PolicyConfig.from_dict({**TINY, "dpo_epochs": 0})
    ).policy


@pytest.fixture(scope="module")
def prompts():
    return sorted({p.prompt for p in make_pairs(96, seed=0)})


@pytest.fixture(scope="module")
def rloo_free(sft, prompts):
    """RLOO with β = 0, the reference's weights recorded before and after."""
    before = state(sft.reference), state(sft.model), grads(sft.reference)
    result = train_rl(prompts, count_word, config=rl_config(), init=sft)
    return result, before


def reward_curve(result, key: str) -> tuple[float, float]:
    values = [h[key] for h in result.history["train"]]
    return sum(values[:5]) / 5, sum(values[-5:]) / 5


def test_rloo_without_a_leash_learns_the_toy_reward_and_drifts(rloo_free):
    result, _ = rloo_free
    start, end = reward_curve(result, "reward")
    assert start < 3 and end > start + 8
    checkpoints = result.history["checkpoints"]
    assert [c["step"] for c in checkpoints] == [0, 10, 20, 30]
    assert checkpoints[0]["kl"] == pytest.approx(0.0, abs=1e-4)  # the policy is the reference
    assert checkpoints[-1]["kl"] > 10 and checkpoints[-1]["proxy"] > checkpoints[0]["proxy"] + 5
    last = result.train_metrics
    for key in (
        "kl",
        "reward",
        "reward_std",
        "entropy",
        "clip_ratio/region_mean",
        "clip_ratio/low_mean",
        "clip_ratio/high_mean",
        "loss",
        "eps",
    ):
        assert key in last
    assert last["kl"] > 0.5 and result.history["train"][0]["kl"] == pytest.approx(0, abs=1e-4)


def test_the_reference_and_the_initial_policy_stay_bit_identical(rloo_free, sft):
    result, (reference_before, model_before, grads_before) = rloo_free
    assert same_weights(reference_before, state(sft.reference))
    assert same_weights(model_before, state(sft.model))
    assert result.policy.reference is sft.reference
    assert not any(p.requires_grad for p in sft.reference.parameters())
    # Whatever gradients the reference kept from its own fine-tuning, RL added none.
    for before, p in zip(grads_before, sft.reference.parameters(), strict=True):
        assert (before is None and p.grad is None) or torch.equal(before, p.grad)
    assert not same_weights(model_before, state(result.policy.model))


def test_ppo_without_a_leash_learns_the_toy_reward_and_drifts(sft, prompts):
    result = train_rl(
        prompts,
        count_word,
        config=rl_config(algorithm="ppo", ppo_epochs=2, minibatches=2),
        init=sft,
    )
    start, end = reward_curve(result, "objective/scores")
    assert start < 3 and end > start + 8
    assert result.history["checkpoints"][-1]["kl"] > 10
    first, last = result.history["train"][0], result.train_metrics
    assert first["objective/kl"] == pytest.approx(0, abs=1e-4) and last["objective/kl"] > 10
    for key in (
        "objective/kl",
        "objective/entropy",
        "objective/non_score_reward",
        "objective/rlhf_reward",
        "objective/scores",
        "policy/approxkl_avg",
        "policy/clipfrac_avg",
        "loss/policy_avg",
        "loss/value_avg",
        "val/clipfrac_avg",
        "policy/entropy_avg",
        "val/ratio",
        "eps",
    ):
        assert key in last
    assert last["objective/non_score_reward"] == 0  # β = 0


def test_a_large_beta_keeps_the_policy_near_its_reference(sft, prompts, rloo_free):
    free, _ = rloo_free
    leashed = train_rl(prompts, count_word, config=rl_config(beta=5.0, kl_estimator="k1"), init=sft)
    kls = [c["kl"] for c in leashed.history["checkpoints"]]
    assert max(kls) < 8
    assert free.history["checkpoints"][-1]["kl"] > 5 * max(kls)


def test_the_adaptive_beta_moves_toward_its_target(sft, prompts):
    options = {"steps": 6, "beta": 0.05, "kl_horizon": 16, "eval_every": 6}
    # A target far above the KL reached: β shrinks; far below: β grows.
    low = train_rl(prompts, count_word, config=rl_config(**options, kl_target=500.0), init=sft)
    betas = [h["beta"] for h in low.history["train"]]
    assert betas[0] == 0.05 and all(b < a for a, b in zip(betas, betas[1:], strict=False))
    high = train_rl(prompts, count_word, config=rl_config(**options, kl_target=1e-3), init=sft)
    betas = [h["beta"] for h in high.history["train"]]
    # Step 1 has KL 0 (the policy is its reference), below any target: β first shrinks.
    assert betas[1] < betas[0] and all(b > a for a, b in zip(betas[1:], betas[2:], strict=False))
    assert betas[-1] > 0.05


def test_completions_that_never_end_are_penalised(sft, prompts):
    def nothing(p, c):
        return [0.0] * len(c)

    options = {"steps": 1, "max_new_tokens": 2, "eval_every": 1}
    plain = train_rl(prompts, nothing, config=rl_config(**options), init=sft).train_metrics
    assert plain["reward"] == 0 and plain["completions/clipped_ratio"] > 0.5
    penalised = train_rl(
        prompts, nothing, config=rl_config(**options, missing_eos_penalty=2.0), init=sft
    ).train_metrics
    assert penalised["completions/clipped_ratio"] == plain["completions/clipped_ratio"]
    assert penalised["reward"] == pytest.approx(-2.0 * plain["completions/clipped_ratio"])


def test_the_best_checkpoint_by_held_out_score_is_kept(sft, prompts):
    def some_you(p, c):  # held out: a few "you" are good, many are not
        return [-abs(s - 4.0) for s in count_word(p, c)]

    config = rl_config(steps=20, eval_every=2)
    result = train_rl(prompts, count_word, config=config, init=sft, heldout_reward_fn=some_you)
    checkpoints = result.history["checkpoints"]
    best = max(checkpoints, key=lambda c: c["heldout"])
    assert result.best_step == best["step"] and 0 < best["step"] < 20
    assert checkpoints[-1]["heldout"] < best["heldout"]
    again = evaluate_checkpoint(
        result.policy,
        result.policy.model,
        prompts[:16],
        count_word,
        some_you,
        config,
        result.best_step,
    )
    assert again == best


def test_with_a_kl_target_only_checkpoints_within_it_are_kept():
    model = torch.nn.Linear(2, 1)
    tracker = Checkpoints(patience=None, kl_limit=6.0)
    curve = [(0, 0.0, 0.1), (10, 3.0, 0.9), (20, 5.9, 1.2), (30, 8.3, 1.5), (40, 7.0, 1.4)]
    for step, kl, heldout in curve:
        with torch.no_grad():
            model.weight.fill_(step)
        tracker.add({"step": step, "kl": kl, "proxy": heldout, "heldout": heldout}, model)
    # Steps 30 and 40 score higher but went past the leash.
    assert tracker.best_step == 20 and tracker.state["weight"].eq(20).all()
    unleashed = Checkpoints(patience=None)
    for step, kl, heldout in curve:
        unleashed.add({"step": step, "kl": kl, "proxy": heldout, "heldout": heldout}, model)
    assert unleashed.best_step == 30


def test_training_stops_when_the_held_out_score_falls_as_the_proxy_rises(sft, prompts):
    def no_you(p, c):
        return [-s for s in count_word(p, c)]

    result = train_rl(
        prompts,
        count_word,
        config=rl_config(steps=30, eval_every=5, patience=2),
        init=sft,
        heldout_reward_fn=no_you,
    )
    assert result.stopped_early and len(result.history["train"]) < 30
    assert result.best_step < result.history["train"][-1]["step"]


def test_progress_reports_and_an_exception_in_it_stops_training(sft, prompts):
    seen = []
    train_rl(
        prompts,
        count_word,
        config=rl_config(steps=3, eval_every=3),
        init=sft,
        progress=lambda fraction, metrics: seen.append((fraction, metrics["reward"])),
    )
    assert [f for f, _ in seen] == pytest.approx([1 / 3, 2 / 3, 1.0])

    class Cancelled(Exception):
        pass

    def cancel(fraction, metrics):
        if fraction > 0.5:
            raise Cancelled

    with pytest.raises(Cancelled):
        train_rl(
            prompts, count_word, config=rl_config(steps=3, eval_every=3), init=sft, progress=cancel
        )


def test_bad_rewards_and_prompts_are_refused(sft, prompts):
    with pytest.raises(ValueError, match="gave 1 scores"):
        train_rl(prompts, lambda p, c: [0.0], config=rl_config(steps=1), init=sft)
    with pytest.raises(ValueError, match="finite"):
        train_rl(prompts, lambda p, c: [float("nan")] * len(c), config=rl_config(steps=1), init=sft)
    with pytest.raises(ValueError, match="no prompts"):
        train_rl(["  "], count_word, config=rl_config(steps=1), init=sft)


def test_padding_after_the_end_changes_no_log_prob_and_no_loss(sft, prompts):
    generator = torch.Generator().manual_seed(0)
    ro = rollout(
        sft,
        sft.model,
        prompts[:4],
        group_size=4,
        max_new_tokens=16,
        temperature=1.0,
        top_p=1.0,
        generator=generator,
    )
    mask = ro.mask.bool()
    assert ro.ended.any() and (~mask).any()  # some completions ended early: padding follows
    assert all(n == 16 or e for n, e in zip(ro.lengths.tolist(), ro.ended.tolist(), strict=True))
    with torch.no_grad():
        logps, entropy, _ = token_logps(sft.model, ro.batch)
        tampered = ro.batch.to("cpu")
        tail = tampered.input_ids[:, tampered.prompt_width :]
        tail[~mask] = torch.randint(2, 50, (int((~mask).sum()),))
        tampered.attention_mask[:, tampered.prompt_width :][~mask] = 1
        logps2, entropy2, _ = token_logps(sft.model, tampered)
    assert torch.allclose(logps, logps2, atol=1e-5) and torch.allclose(entropy, entropy2, atol=1e-5)
    assert logps[~mask].abs().sum() == 0
    advantages = torch.linspace(-1, 1, 16)
    old = logps.sum(-1) - 0.1
    a = clipped_sequence_loss(logps.sum(-1), old, advantages, 0.2)[0]
    b = clipped_sequence_loss(logps2.sum(-1), old, advantages, 0.2)[0]
    assert float(a) == pytest.approx(float(b), abs=1e-5)


def test_ppo_runs_on_a_hugging_face_backbone(tiny_hf_dir, toy_pairs, prompts):
    config = PolicyConfig(
        backbone=str(tiny_hf_dir),
        dpo_epochs=0,
        device="cpu",
        max_prompt_tokens=24,
        max_response_tokens=16,
    )
    policy = train(toy_pairs[:8], config=config).policy
    result = train_rl(
        prompts,
        count_word,
        init=policy,
        config=rl_config(algorithm="ppo", steps=2, eval_every=2, beta=0.1),
    )
    assert len(result.history["train"]) == 2
    assert result.train_metrics["loss/value_avg"] >= 0
    # GPT-2 has dropout; RL switches it off, so the first update's ratio π / π_old is 1.
    first = result.history["train"][0]
    assert first["val/ratio"] == pytest.approx(1.0, abs=1e-5)
    assert first["policy/approxkl_avg"] == pytest.approx(0.0, abs=1e-8)
