"""Preference losses against values computed by hand (arithmetic written out)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from training.reward.losses import (  # noqa: E402
    all_pairs_loss,
    bradley_terry_loss,
    centering_loss,
    plackett_luce_loss,
    tiers_from_ranking,
)


def nls(x: float) -> float:
    """-log σ(x) = log(1 + e^-x)."""
    return math.log1p(math.exp(-x))


def t(*rows):
    return torch.tensor(rows, dtype=torch.float64)


def test_bradley_terry_by_hand():
    # r_w − r_l = 2 − 1 = 1:  -log σ(1) = log(1 + e^-1) = log(1.36788) = 0.313262
    loss = bradley_terry_loss(chosen=t(2.0), rejected=t(1.0))
    assert loss.item() == pytest.approx(0.313262, abs=1e-6)
    # equal rewards: -log σ(0) = log 2 = 0.693147
    assert bradley_terry_loss(chosen=t(0.5), rejected=t(0.5)).item() == pytest.approx(
        math.log(2), abs=1e-9
    )


def test_bradley_terry_margin_and_weights():
    # margin 1 on a difference of 1: -log σ(0) = log 2
    loss = bradley_terry_loss(chosen=t(2.0), rejected=t(1.0), margin=1.0)
    assert loss.item() == pytest.approx(math.log(2), abs=1e-9)
    # per-pair margins [0, 2] on differences [1, 1]: mean(log(1+e^-1), log(1+e^1))
    #   = (0.313262 + 1.313262) / 2 = 0.813262
    loss = bradley_terry_loss(chosen=t(1.0, 1.0), rejected=t(0.0, 0.0), margin=t(0.0, 2.0))
    assert loss.item() == pytest.approx(0.813262, abs=1e-6)
    # weights [3, 1]: (3 · 0.313262 + 1 · 1.313262) / 4 = 0.563262
    loss = bradley_terry_loss(chosen=t(1.0, -1.0), rejected=t(0.0, 0.0), weight=t(3.0, 1.0))
    assert loss.item() == pytest.approx(0.563262, abs=1e-6)


def test_plackett_luce_by_hand_three_items():
    # rewards (1, 0.2, -0.5) ranked 0 > 1 > 2:
    #   tier 0: logsumexp(1, .2, -.5) − 1 = log(e + e^.2 + e^-.5) − 1
    #         = log(2.718282 + 1.221403 + 0.606531) − 1 = log(4.546216) − 1 = 0.514295
    #   tier 1: logsumexp(.2, -.5) − .2 = log(1.221403 + 0.606531) − .2 = 0.603186 − .2 = 0.403186
    #   last tier beats nothing: 0.       total = 0.917481
    loss = plackett_luce_loss(rewards=t([1.0, 0.2, -0.5]), tiers=torch.tensor([[0, 1, 2]]))
    assert loss.item() == pytest.approx(0.917481, abs=1e-5)


def test_plackett_luce_breslow_ties():
    # items 0 and 1 tied on top of item 2; rewards (1, 0.2, -0.5):
    #   tier 0 = {0, 1}: 2 · logsumexp(1, .2, -.5) − (1 + .2) = 2 · 1.514295 − 1.2 = 1.828590
    #   tier 1 = {2} is the last tier: 0
    loss = plackett_luce_loss(rewards=t([1.0, 0.2, -0.5]), tiers=torch.tensor([[0, 0, 1]]))
    assert loss.item() == pytest.approx(1.828590, abs=1e-5)
    # everything tied: nothing is ranked, loss 0
    assert plackett_luce_loss(rewards=t([1.0, 2.0]), tiers=torch.tensor([[0, 0]])).item() == 0.0


def test_plackett_luce_equals_bradley_terry_at_k2():
    torch.manual_seed(0)
    r = torch.randn(32, 2, dtype=torch.float64)
    tiers = torch.tensor([[0, 1]] * 16 + [[1, 0]] * 16)
    pl = plackett_luce_loss(rewards=r, tiers=tiers)
    winner = torch.where(tiers[:, 0] == 0, r[:, 0], r[:, 1])
    loser = torch.where(tiers[:, 0] == 0, r[:, 1], r[:, 0])
    assert pl.item() == pytest.approx(
        bradley_terry_loss(chosen=winner, rejected=loser).item(), abs=1e-12
    )


def test_all_pairs_is_mean_of_bt_over_pairs():
    # rewards (1, .2, -.5), ranking 0 > 1 > 2: pairs (0,1) (0,2) (1,2) with differences
    # .8, 1.5, .7 -> (log(1+e^-.8) + log(1+e^-1.5) + log(1+e^-.7)) / 3
    #             = (0.371101 + 0.201413 + 0.403186) / 3 = 0.325233
    r = t([1.0, 0.2, -0.5])
    loss = all_pairs_loss(rewards=r, tiers=torch.tensor([[0, 1, 2]]))
    assert loss.item() == pytest.approx((nls(0.8) + nls(1.5) + nls(0.7)) / 3, abs=1e-12)
    assert loss.item() == pytest.approx(0.325233, abs=1e-6)
    bt = bradley_terry_loss(chosen=t(1.0, 1.0, 0.2), rejected=t(0.2, -0.5, -0.5))
    assert loss.item() == pytest.approx(bt.item(), abs=1e-12)


def test_all_pairs_one_prompt_is_one_batch_element():
    # prompt A: K=3 full order (3 pairs); prompt B: K=2 (1 pair). Each prompt is one element:
    # loss = (mean over A's 3 pairs + B's single pair) / 2, NOT the mean over all 4 pairs.
    r = t([1.0, 0.2, -0.5], [0.3, 0.0, 0.0])
    tiers = torch.tensor([[0, 1, 2], [1, 0, -1]])  # B: response 1 beats response 0, no third
    a = (nls(0.8) + nls(1.5) + nls(0.7)) / 3
    b = nls(0.0 - 0.3)
    assert all_pairs_loss(rewards=r, tiers=tiers).item() == pytest.approx((a + b) / 2, abs=1e-12)


def test_all_pairs_ties():
    r = t([1.0, 0.2, -0.5])
    # 0 and 1 tied above 2: only (0,2) and (1,2) count by default
    loss = all_pairs_loss(rewards=r, tiers=torch.tensor([[0, 0, 1]]))
    assert loss.item() == pytest.approx((nls(1.5) + nls(0.7)) / 2, abs=1e-12)
    # tie term: ½(-log σ(.8) − log σ(−.8)) = ½(0.371101 + 1.171101) = 0.771101, weight 1
    loss = all_pairs_loss(rewards=r, tiers=torch.tensor([[0, 0, 1]]), tie_weight=1.0)
    tie = 0.5 * (nls(0.8) + nls(-0.8))
    assert tie == pytest.approx(0.771101, abs=1e-6)
    assert loss.item() == pytest.approx((nls(1.5) + nls(0.7) + tie) / 3, abs=1e-12)
    # all tied and no tie term: no pair at all -> 0 (and still differentiable)
    rr = t([1.0, 2.0]).requires_grad_()
    loss = all_pairs_loss(rewards=rr, tiers=torch.tensor([[0, 0]]))
    loss.backward()
    assert loss.item() == 0.0


def test_all_pairs_margin_matches_bt_margin():
    r = t([1.0, 0.0], [0.0, 2.0])
    tiers = torch.tensor([[0, 1], [1, 0]])
    margin = t(0.5, 1.0)
    ap = all_pairs_loss(rewards=r, tiers=tiers, margin=margin)
    bt = bradley_terry_loss(chosen=t(1.0, 2.0), rejected=t(0.0, 0.0), margin=margin)
    assert ap.item() == pytest.approx(bt.item(), abs=1e-12)


def test_centering_term():
    # prompt means: (1 + 3)/2 = 2 and (−1 + 0 + 4)/3 = 1 (third padded away in prompt A)
    # λ · mean(2², 1²) = 0.1 · 2.5 = 0.25
    r = t([1.0, 3.0, 99.0], [-1.0, 0.0, 4.0])
    tiers = torch.tensor([[0, 1, -1], [0, 1, 2]])
    assert centering_loss(rewards=r, tiers=tiers, coef=0.1).item() == pytest.approx(0.25, abs=1e-12)
    # shifting all rewards of a prompt by c leaves ranking losses unchanged, moves centering
    shifted = r + 5.0
    assert all_pairs_loss(rewards=shifted, tiers=tiers).item() == pytest.approx(
        all_pairs_loss(rewards=r, tiers=tiers).item(), abs=1e-12
    )
    assert centering_loss(rewards=shifted, tiers=tiers, coef=0.1).item() > 0.25


def test_tiers_from_ranking():
    assert tiers_from_ranking([[2], [0, 1]], 4) == [1, 1, 0, -1]
    with pytest.raises(ValueError):
        tiers_from_ranking([[0], [0]], 2)
    with pytest.raises(ValueError):
        tiers_from_ranking([[5]], 2)
