"""Reward model: splits, training outcome, reproducibility, persistence, preview step.

Most tests use a tiny random BERT (fixture ``tiny_bert_dir``); it still separates the toy
data because the pooled states of early layers keep which words a response contains.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

torch = pytest.importorskip("torch")

from training.reward import (  # noqa: E402
    Comparison,
    EmbeddingCache,
    TrainConfig,
    cross_validate,
    evaluate,
    load,
    pair_metrics,
    preview_step,
    save,
    split_by_item,
    train,
)


@pytest.fixture(scope="module")
def config(tiny_bert_dir) -> TrainConfig:
    return TrainConfig(
        encoder_path=str(tiny_bert_dir),
        layers=(0, 1, 2),
        max_length=64,
        epochs=40,
        l2=1.0,
        lr=1e-2,
        eval_fraction=0.25,
        device="cpu",
    )


@pytest.fixture(scope="module")
def trained(toy_comparisons, config, tmp_path_factory):
    cache = EmbeddingCache(tmp_path_factory.mktemp("cache"))
    seen: list[tuple[float, float]] = []
    result = train(
        toy_comparisons, config=config, cache=cache, progress=lambda f, loss: seen.append((f, loss))
    )
    return result, cache, seen


def test_split_by_item_never_leaks():
    comps = [
        Comparison(item_id=i % 7, prompt="p", responses=[f"a{j}", f"b{j}"], ranking=[[0], [1]])
        for j, i in enumerate(range(40))
    ]
    for seed in range(5):
        tr, ev = split_by_item(comps, eval_fraction=0.3, seed=seed)
        assert {c.item_id for c in tr}.isdisjoint({c.item_id for c in ev})
        assert len(tr) + len(ev) == len(comps) and ev
    assert split_by_item(comps, 0.3, 1) == split_by_item(comps, 0.3, 1)  # positional, seeded


def test_head_training_learns_separable_toy_data(trained):
    result, cache, seen = trained
    assert result.metrics["n_eval"] == 15 and result.metrics["n_train"] == 45
    assert result.metrics["train"]["accuracy"] >= 0.95
    assert result.metrics["eval"]["accuracy"] >= 0.85  # held-out items, learned not memorised
    assert result.metrics["eval"]["mean_margin"] > 0
    # loss went down; progress reported increasing fractions ending at 1
    assert result.loss_curve[-1] < result.loss_curve[0] < math.log(2) + 1e-6
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) > 5
    assert cache.misses > 0


def test_training_is_reproducible(toy_comparisons, config, trained):
    result, cache, _ = trained
    again = train(toy_comparisons, config=config, cache=cache)
    assert again.metrics["eval"] == result.metrics["eval"]
    assert again.loss_curve == result.loss_curve
    other = train(toy_comparisons, config=dataclasses.replace(config, seed=1), cache=cache)
    assert other.loss_curve != result.loss_curve


def test_evaluate_metrics_and_human_ceiling(trained, toy_comparisons):
    result, _, _ = trained
    m = evaluate(
        result, toy_comparisons[:10], agreement={c.item_id: 0.8 for c in toy_comparisons[:5]}
    )
    assert m["human_ceiling"] == pytest.approx(0.8)
    assert m["n_pairs"] == 10 and 0 <= m["ece"] <= 1
    # hand-made rewards: pairs (+2, −1) -> accuracy ½, mean margin ½; ties in rankings skipped
    comps = [
        Comparison(item_id=0, prompt="p", responses=["a", "b"], ranking=[[0], [1]]),
        Comparison(item_id=1, prompt="p", responses=["a", "b"], ranking=[[1], [0]]),
        Comparison(item_id=2, prompt="p", responses=["a", "b"], ranking=[[0, 1]]),
    ]
    m = pair_metrics([[2.0, 0.0], [1.0, 0.0], [5.0, 0.0]], comps)
    assert m["n_pairs"] == 2 and m["accuracy"] == 0.5 and m["mean_margin"] == pytest.approx(0.5)
    # ECE of one pair with p = σ(0) = ½ in both orders: |1 − ½|·½ + |0 − ½|·½ = ½; both
    # land in the bin [0.5, 0.6), whose mean outcome ½ equals its mean p: ECE 0
    assert pair_metrics([[0.0, 0.0]], comps[:1])["ece"] == pytest.approx(0.0)


def test_save_load_round_trip(trained, tmp_path, toy_comparisons):
    result, _, _ = trained
    save(result, tmp_path / "model")
    assert {p.name for p in (tmp_path / "model").iterdir()} >= {
        "model.safetensors",
        "config.json",
        "metrics.json",
    }
    scorer = load(tmp_path / "model")
    c = toy_comparisons[0]
    assert scorer.score(c.prompt, c.responses) == result.scorer.score(c.prompt, c.responses)


def test_preview_step_moves_chosen_up_and_leaves_original(trained):
    result, _, _ = trained
    scorer = result.scorer
    prompt, responses = (
        "Human: anything?\n\nAssistant:",
        ["glad to help kindly", "go away you idiot"],
    )
    state = {k: v.clone() for k, v in scorer.state_dict().items()}
    # label the BAD response as better: the step must move it up relative to the good one
    before, after = preview_step(scorer, prompt, responses, [[1], [0]], lr=1e-2)
    assert before == scorer.score(prompt, responses)
    assert (after[1] - after[0]) > (before[1] - before[0])
    assert all(torch.equal(v, scorer.state_dict()[k]) for k, v in state.items())
    assert scorer.cache is not None  # the shared cache was not dropped from the original


def test_finetune_mode_runs_and_saves(toy_comparisons, config, tmp_path):
    cfg = dataclasses.replace(
        config, mode="finetune", ft_epochs=1, ft_batch_size=8, ft_lr=1e-3, eval_fraction=0.0
    )
    seen: list[float] = []
    result = train(toy_comparisons[:24], config=cfg, progress=lambda f, loss: seen.append(f))
    assert result.metrics["train"]["accuracy"] >= 0.8 and seen[-1] == 1.0
    save(result, tmp_path / "ft")
    scorer = load(tmp_path / "ft")
    # fine-tuned weights get their own cache identity, the same after a reload
    assert "-ft-" in scorer.encoder.identifier
    assert scorer.encoder.identifier == result.scorer.encoder.identifier
    c = toy_comparisons[0]
    assert scorer.score(c.prompt, c.responses) == pytest.approx(
        result.scorer.score(c.prompt, c.responses), abs=1e-5
    )
    before, after = preview_step(scorer, c.prompt, c.responses, c.ranking, lr=1e-2)
    win, lose = c.ranking[0][0], c.ranking[1][0]
    assert after[win] - after[lose] > before[win] - before[lose]


def test_cross_validate_folds_by_item(toy_comparisons, config):
    # two comparisons per item: a fold must hold both or neither
    doubled = toy_comparisons[:20] + [dataclasses.replace(c) for c in toy_comparisons[:20]]
    out = cross_validate(doubled, config=dataclasses.replace(config, epochs=10), folds=4, seed=0)
    assert len(out["folds"]) == 4
    assert sum(f["n_eval"] for f in out["folds"]) == 40
    assert all(f["n_eval"] % 2 == 0 for f in out["folds"])
    assert 0.0 <= out["mean_accuracy"] <= 1.0 and out["seconds"] > 0
