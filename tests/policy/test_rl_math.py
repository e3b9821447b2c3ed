"""The RL math against hand-worked values: KL estimators, leave-one-out baselines, GAE,
whitening, the clipped losses, the adaptive KL coefficient, and the strict config."""

from __future__ import annotations

import math

import pytest
import torch

from training.policy.rl import (
    RL_PARAMETERS,
    AdaptiveKLController,
    RLConfig,
    clipped_sequence_loss,
    gae,
    gathered_logps,
    kl_k1,
    kl_k3,
    masked_mean,
    masked_var,
    rloo_advantages,
    token_rewards,
    whiten,
)

LOG = math.log


def test_k1_and_k3_by_hand():
    logp = torch.tensor([LOG(0.5), LOG(0.2)])
    ref = torch.tensor([LOG(0.25), LOG(0.4)])
    # k1 = log p − log p_ref: log 2, log 0.5.
    assert kl_k1(logp, ref).tolist() == pytest.approx([LOG(2), LOG(0.5)])
    # k3 = (r − 1) − log r with r = p_ref / p: r = 0.5 -> 0.5 − 1 + log 2; r = 2 -> 1 − log 2.
    assert kl_k3(logp, ref).tolist() == pytest.approx([-0.5 + LOG(2), 1 - LOG(2)])
    assert (kl_k3(logp, ref) >= 0).all()


def test_both_estimators_average_to_the_exact_kl_under_the_policy():
    p = torch.tensor([0.5, 0.3, 0.15, 0.05])
    q = torch.tensor([0.25, 0.25, 0.25, 0.25])
    exact = float((p * (p / q).log()).sum())
    for estimator in (kl_k1, kl_k3):
        assert float((p * estimator(p.log(), q.log())).sum()) == pytest.approx(exact, rel=1e-6)


def test_leave_one_out_baseline_by_hand():
    # Group sum 12: baselines 11/3, 10/3, 9/3, 6/3.
    advantages = rloo_advantages(torch.tensor([1.0, 2.0, 3.0, 6.0]), 4)
    assert advantages.tolist() == pytest.approx([1 - 11 / 3, 2 - 10 / 3, 0.0, 4.0])
    # Two groups of two: each baseline is the other completion's reward.
    assert rloo_advantages(torch.tensor([0.0, 4.0, 1.0, 1.0]), 2).tolist() == [-4, 4, 0, 0]
    with pytest.raises(ValueError, match="group_size"):
        rloo_advantages(torch.tensor([1.0, 2.0]), 1)


def test_gae_by_hand_three_steps():
    rewards = torch.tensor([[1.0, 0.0, 2.0]])
    values = torch.tensor([[0.5, 0.2, 0.1]])
    advantages, returns = gae(rewards, values, torch.ones(1, 3), gamma=0.9, lam=0.8)
    # δ2 = 2 − 0.1 = 1.9;  δ1 = 0 + 0.9·0.1 − 0.2 = −0.11, A1 = −0.11 + 0.72·1.9 = 1.258;
    # δ0 = 1 + 0.9·0.2 − 0.5 = 0.68, A0 = 0.68 + 0.72·1.258 = 1.58576.
    assert advantages[0].tolist() == pytest.approx([1.58576, 1.258, 1.9])
    assert returns[0].tolist() == pytest.approx([2.08576, 1.458, 2.0])


def test_gae_with_gamma_and_lambda_one_is_returns_to_go_minus_values():
    rewards = torch.tensor([[0.5, -1.0, 2.0, 0.25]])
    values = torch.tensor([[0.3, 0.1, -0.4, 0.9]])
    advantages, returns = gae(rewards, values, torch.ones(1, 4), gamma=1.0, lam=1.0)
    to_go = rewards.flip(-1).cumsum(-1).flip(-1)
    assert torch.allclose(advantages, to_go - values)
    assert torch.allclose(returns, to_go)


def test_gae_ignores_the_padding_after_the_end():
    mask = torch.tensor([[1, 1, 0, 0]])
    rewards = torch.tensor([[1.0, 2.0, 50.0, -7.0]])
    values = torch.tensor([[0.5, 0.25, 9.0, 3.0]])
    advantages, returns = gae(rewards, values, mask, gamma=0.9, lam=0.8)
    short_a, short_r = gae(rewards[:, :2], values[:, :2], mask[:, :2], gamma=0.9, lam=0.8)
    assert torch.allclose(advantages[:, :2], short_a) and torch.allclose(returns[:, :2], short_r)
    assert advantages[0, 2:].tolist() == [0, 0] and returns[0, 2:].tolist() == [0, 0]


def test_token_rewards_put_the_score_on_the_last_token():
    kl = torch.tensor([[0.5, 1.0, 9.0], [2.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    rewards, non_score = token_rewards(torch.tensor([3.0, -1.0]), kl, mask, beta=0.1)
    assert torch.allclose(non_score, torch.tensor([[-0.05, -0.1, 0.0], [-0.2, 0.0, 0.0]]))
    assert torch.allclose(rewards, torch.tensor([[-0.05, 2.9, 0.0], [-1.2, 0.0, 0.0]]))


def test_whiten_and_masked_statistics():
    x = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert torch.allclose(whiten(x), (x - x.mean()) / x.std(), atol=1e-6)
    assert whiten(x).tolist() == pytest.approx([-1.161895, -0.387298, 0.387298, 1.161895], rel=1e-5)
    assert torch.allclose(whiten(x, shift_mean=False), whiten(x) + 2.5)
    padded = torch.tensor([1.0, 2.0, 3.0, 100.0])
    mask = torch.tensor([1, 1, 1, 0])
    assert float(masked_mean(padded, mask)) == 2.0
    assert float(masked_var(padded, mask)) == pytest.approx(1.0)  # unbiased: 2 / (3 − 1)
    assert torch.allclose(whiten(padded, mask)[:3], whiten(padded[:3]))


def test_clipped_sequence_loss_by_hand():
    old = torch.zeros(2)
    # Ratio 1.5 with A = +1 is clipped to 1.2; ratio 0.5 with A = −1 is clipped to 0.8.
    loss, stats = clipped_sequence_loss(
        torch.tensor([LOG(1.5), LOG(0.5)]), old, torch.tensor([1.0, -1.0]), 0.2
    )
    assert float(loss) == pytest.approx((-1.2 + 0.8) / 2)
    assert stats == {
        "clip_ratio/low_mean": 0.5,
        "clip_ratio/high_mean": 0.5,
        "clip_ratio/region_mean": 1.0,
    }
    # Inside the clip range the loss is the plain surrogate −ρ·A and nothing is clipped.
    loss, stats = clipped_sequence_loss(
        torch.tensor([LOG(1.1)]), torch.zeros(1), torch.tensor([2.0]), 0.2
    )
    assert float(loss) == pytest.approx(-2.2) and stats["clip_ratio/region_mean"] == 0


def test_masked_logits_change_nothing():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 7)
    labels = torch.randint(0, 7, (2, 4))
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]])
    logps, entropy = gathered_logps(logits, labels, mask)
    noisy = logits.clone()
    noisy[~mask.bool()] = torch.randn(4, 7) * 100
    noisy[0, 3, 0] = float("inf")
    logps2, entropy2 = gathered_logps(noisy, labels, mask)
    assert torch.equal(logps, logps2) and torch.equal(entropy, entropy2)
    assert logps[~mask.bool()].abs().sum() == 0
    advantages = torch.tensor([1.0, -0.5])
    assert torch.equal(
        clipped_sequence_loss(logps.sum(-1), torch.zeros(2), advantages, 0.2)[0],
        clipped_sequence_loss(logps2.sum(-1), torch.zeros(2), advantages, 0.2)[0],
    )


def test_adaptive_controller_by_hand():
    controller = AdaptiveKLController(0.1, target=1.0, horizon=100)
    controller.update(2.0, n_steps=10)  # error 1.0, clipped to 0.2: β·(1 + 0.2·10/100)
    assert controller.value == pytest.approx(0.102)
    controller = AdaptiveKLController(0.1, target=1.0, horizon=100)
    controller.update(1.05, n_steps=10)  # error 0.05
    assert controller.value == pytest.approx(0.1 * 1.005)
    controller = AdaptiveKLController(0.1, target=1.0, horizon=100)
    controller.update(0.5, n_steps=10)  # error −0.5, clipped to −0.2
    assert controller.value == pytest.approx(0.098)


def test_config_is_strict():
    assert RLConfig.from_dict({"steps": 3}).steps == 3
    assert set(RL_PARAMETERS) == set(RLConfig().to_dict())
    with pytest.raises(ValueError, match="stepz"):
        RLConfig.from_dict({"stepz": 3})
    for bad, word in (
        ({"algorithm": "a2c"}, "algorithm"),
        ({"group_size": 1}, "group_size"),
        ({"kl_estimator": "k2"}, "kl_estimator"),
        ({"beta": -1}, "beta"),
        ({"kl_target": 0.0}, "kl_target"),
        ({"patience": 0}, "patience"),
        ({"minibatches": 99}, "minibatches"),
        ({"temperature": 0}, "temperature"),
    ):
        with pytest.raises(ValueError, match=word):
            RLConfig.from_dict(bad)
    assert RLConfig(algorithm="ppo", group_size=1).group_size == 1
