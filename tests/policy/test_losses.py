"""dpo_loss against the published formulas and against TRL 1.16's own ``_compute_loss``;
sequence_logps against a direct log-softmax sum, and its masking."""

from __future__ import annotations

import math
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from training.policy import dpo_loss, sequence_logps

BETA = 0.2
# Fixed log-probs of 4 pairs: policy chosen / rejected, reference chosen / rejected, lengths.
PC = torch.tensor([-10.0, -22.5, -7.0, -40.0], dtype=torch.float64)
PR = torch.tensor([-12.0, -20.0, -9.5, -35.0], dtype=torch.float64)
RC = torch.tensor([-11.0, -21.0, -8.0, -38.0], dtype=torch.float64)
RR = torch.tensor([-11.5, -21.0, -9.0, -36.0], dtype=torch.float64)
LC = torch.tensor([5.0, 9.0, 3.0, 14.0], dtype=torch.float64)
LR = torch.tensor([6.0, 8.0, 4.0, 12.0], dtype=torch.float64)


def log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


def expected(loss_type: str, eps: float) -> list[float]:
    out = []
    for pc, pr, rc, rr, lc, lr in zip(PC, PR, RC, RR, LC, LR, strict=True):
        chosen, rejected = float(pc - rc), float(pr - rr)
        z = BETA * (chosen - rejected)
        if loss_type == "sigmoid":
            out.append(-(1 - eps) * log_sigmoid(z) - eps * log_sigmoid(-z))
        elif loss_type == "hinge":
            out.append(max(0.0, 1 - z))
        elif loss_type == "ipo":
            out.append((chosen / float(lc) - rejected / float(lr) - 1 / (2 * BETA)) ** 2)
        else:
            out.append(((1 - eps) * -log_sigmoid(z) + eps * log_sigmoid(-z)) / (1 - 2 * eps))
    return out


CASES = [("sigmoid", 0.0), ("sigmoid", 0.1), ("hinge", 0.0), ("ipo", 0.0),
         ("robust", 0.0), ("robust", 0.2)]


@pytest.mark.parametrize(("loss_type", "eps"), CASES)
def test_losses_match_the_formulas(loss_type, eps):
    losses, chosen_rewards, rejected_rewards = dpo_loss(
        PC, PR, RC, RR, beta=BETA, loss_type=loss_type, label_smoothing=eps,
        chosen_lengths=LC, rejected_lengths=LR,
    )
    assert losses.tolist() == pytest.approx(expected(loss_type, eps), rel=1e-12)
    assert chosen_rewards.tolist() == pytest.approx((BETA * (PC - RC)).tolist())
    assert rejected_rewards.tolist() == pytest.approx((BETA * (PR - RR)).tolist())


def trl_loss(loss_type: str, eps: float, i: int) -> tuple[float, dict]:
    """TRL's DPOTrainer._compute_loss on pair i, the model replaced by fixed per-token
    log-probs (the whole sum on the first completion token) and precomputed ref log-probs."""
    from trl.trainer.dpo_trainer import DPOTrainer

    width = int(max(LC[i], LR[i])) + 2
    completion = torch.zeros(2, width)
    completion[0, 1 : 1 + int(LC[i])] = 1  # column 0 is the prompt token
    completion[1, 1 : 1 + int(LR[i])] = 1
    per_token = torch.zeros(2, width - 1, dtype=torch.float64)
    per_token[0, 0], per_token[1, 0] = PC[i], PR[i]

    def model(**kwargs):
        zeros = torch.zeros(2, width - 1)
        return SimpleNamespace(
            log_probs=per_token, entropy=zeros, mean_logits=zeros, is_top1=zeros.bool()
        )

    model.training = True
    identity = SimpleNamespace(gather_for_metrics=lambda t: t, gather=lambda t: t,
                               device="cpu")
    trainer = SimpleNamespace(
        model=model, accelerator=identity, aux_loss_enabled=False, ld_alpha=None,
        precompute_ref_logps=True, f_divergence_type="reverse_kl", loss_types=[loss_type],
        loss_weights=[1.0], beta=BETA, label_smoothing=eps, use_weighting=False,
        _metrics=defaultdict(lambda: defaultdict(list)), _total_train_tokens=0, _tp_size=1,
    )
    inputs = {
        "input_ids": torch.zeros(2, width, dtype=torch.long),
        "attention_mask": torch.ones(2, width, dtype=torch.long),
        "completion_mask": completion,
        "ref_chosen_logps": RC[i : i + 1],
        "ref_rejected_logps": RR[i : i + 1],
    }
    loss = DPOTrainer._compute_loss(trainer, model, inputs, return_outputs=False)
    return float(loss), {k: v[0] for k, v in trainer._metrics["train"].items()}


# TRL 1.16's sigmoid has no label smoothing (cDPO is checked against the formula above).
@pytest.mark.parametrize(("loss_type", "eps"), [c for c in CASES if c != ("sigmoid", 0.1)])
def test_losses_match_trl(loss_type, eps):
    pytest.importorskip("trl")
    losses, chosen_rewards, rejected_rewards = dpo_loss(
        PC, PR, RC, RR, beta=BETA, loss_type=loss_type, label_smoothing=eps,
        chosen_lengths=LC, rejected_lengths=LR,
    )
    for i in range(len(PC)):
        loss, metrics = trl_loss(loss_type, eps, i)
        assert float(losses[i]) == pytest.approx(loss, rel=1e-6)
        assert float(chosen_rewards[i]) == pytest.approx(metrics["rewards/chosen"], rel=1e-6)
        assert float(rejected_rewards[i]) == pytest.approx(metrics["rewards/rejected"], rel=1e-6)


def test_ipo_needs_lengths_and_robust_needs_small_smoothing():
    with pytest.raises(ValueError, match="lengths"):
        dpo_loss(PC, PR, RC, RR, beta=BETA, loss_type="ipo")
    with pytest.raises(ValueError, match="label_smoothing"):
        dpo_loss(PC, PR, RC, RR, beta=BETA, loss_type="robust", label_smoothing=0.5)


def test_sequence_logps_is_the_masked_log_softmax_sum():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 11, generator=g)
    labels = torch.randint(0, 11, (3, 5), generator=g)
    mask = torch.tensor([[0, 0, 1, 1, 1], [0, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    expected_sum = [
        sum(float(torch.log_softmax(logits[b, t], -1)[labels[b, t]])
            for t in range(5) if mask[b, t])
        for b in range(3)
    ]
    assert sequence_logps(logits, labels, mask).tolist() == pytest.approx(expected_sum, rel=1e-5)


def test_sequence_logps_ignores_prompt_and_padding_positions():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 6, 7, generator=g)
    labels = torch.randint(0, 7, (2, 6), generator=g)
    mask = torch.tensor([[0, 0, 1, 1, 0, 0], [0, 1, 1, 1, 1, 0]])
    before = sequence_logps(logits, labels, mask)
    changed_logits, changed_labels = logits.clone(), labels.clone()
    off = mask == 0
    changed_logits[off] = torch.randn(int(off.sum()), 7, generator=g) * 50
    changed_logits[0, 0] = float("inf")  # even a non-finite prompt logit plays no part
    changed_labels[off] = (changed_labels[off] + 3) % 7
    assert torch.equal(sequence_logps(changed_logits, changed_labels, mask), before)
    changed_logits[0, 2, labels[0, 2]] += 1.0  # a response logit does count
    assert not torch.equal(sequence_logps(changed_logits, labels, mask), before)
