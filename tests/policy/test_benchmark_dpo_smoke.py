"""The speed benchmark against TRL (benchmarks/dpo.py) compares like with like: on the toy
pairs and the tiny configuration, a few steps of our trainer and of TRL's ``DPOTrainer``
fed by the benchmark's helpers see the same reference log-probs and take the same losses
step after step (same tokens, order, optimizer and schedule), and the token counts and
rates it reports follow from the batches our collation builds."""

from __future__ import annotations

import dataclasses

import pytest
import torch

pytest.importorskip("trl")
pytest.importorskip("datasets")

from benchmarks import dpo as bench  # noqa: E402
from training.policy.sequences import pair_batch  # noqa: E402

STEPS = 3


@pytest.fixture(scope="module")
def setup(toy_pairs, tiny_config):
    config = dataclasses.replace(tiny_config, max_steps=STEPS)
    pairs = toy_pairs[: STEPS * config.batch_size]
    policy = bench.initial_policy(pairs, config)
    order = bench.first_epoch_order(len(pairs), config)
    rows = bench.encoded_rows(policy, [pairs[i] for i in order])
    return config, pairs, policy, rows


def test_order_is_a_permutation_in_batches(setup):
    config, pairs, _, _ = setup
    order = bench.first_epoch_order(len(pairs), config)
    assert sorted(order) == list(range(len(pairs)))
    assert order == bench.first_epoch_order(len(pairs), config)


def test_tokens_per_step_counts_the_non_pad_cells_of_our_batches(setup):
    config, _, policy, rows = setup
    counted = bench.tokens_per_step(rows, config.batch_size)
    pad = int(policy.tokenizer.pad_token_id)
    expected = []
    for start in range(0, len(rows), config.batch_size):
        chunk = rows[start : start + config.batch_size]
        batch = pair_batch(
            [r["prompt_ids"] for r in chunk],
            [r["chosen_ids"] for r in chunk],
            [r["rejected_ids"] for r in chunk],
            pad,
        )
        expected.append(int(batch.attention_mask.sum()))
    assert counted == expected


def test_rates_time_the_steps_after_the_warm_up():
    runs = [
        bench.Run(step_times=[0.0, 1.0, 3.0, 4.0, 6.0], losses=[0.7] * 5),
        bench.Run(step_times=[10.0, 12.0, 13.0, 17.0, 18.0], losses=[0.6] * 5),
    ]
    tokens = [100, 200, 300, 400, 500]
    got = bench.rates(runs, tokens, warmup=2)
    seconds = (6.0 - 1.0) + (18.0 - 12.0)
    assert got["steps_per_s"] == pytest.approx(6 / seconds, abs=1e-4)
    assert got["tokens_per_s"] == pytest.approx(2 * (300 + 400 + 500) / seconds, abs=0.1)
    assert got["first_batch_loss"] == 0.7


def test_ours_and_trl_take_the_same_steps(setup):
    config, pairs, policy, rows = setup
    ours = bench.run_ours(policy, pairs, config)
    trl, trl_reference = bench.run_trl(policy, rows, config, STEPS)
    assert len(ours.step_times) == len(trl.step_times) == STEPS
    torch.testing.assert_close(
        bench.reference_logps(policy, rows), torch.tensor(trl_reference), rtol=1e-5, atol=1e-4
    )
    assert ours.losses[0] == pytest.approx(trl.losses[0], abs=1e-6)
    # Later steps differ if the batches, their order or the updates differ.
    assert ours.losses[1:] == pytest.approx(trl.losses[1:], abs=1e-5)
    assert abs(ours.losses[-1] - ours.losses[0]) > 1e-3
