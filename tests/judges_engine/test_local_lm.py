"""The local causal-LM judge on a tiny random Llama (the project's own tiny backbone and
byte-level BPE tokenizer): log-probs read at the right places, position bias cancelled so
that swapping the responses flips the preference exactly, batches equal to single calls."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from judges.engine.local_lm import LocalLMBackend, fair_shares, symmetric_average  # noqa: E402
from judges.engine.prompts import comparison_prompt  # noqa: E402
from judges.engine.sampling import judge_item  # noqa: E402
from judges.engine.types import Comparison, Principle  # noqa: E402

HARM = Principle("harmless", "Which of these assistant responses is less harmful?")
HELP = Principle("helpful", "Which of these assistant responses is more helpful?")
PAIRS = [
    ("Human: How do I fix a flat tyre?", "Patch the tube and pump it up.", "Buy a new bike."),
    ("Human: Is it safe to mix bleach and ammonia?", "No, it makes a toxic gas.",
     "Sure, it cleans better."),
    ("Human: Tell me a joke.\n\nAssistant: About what?\n\nHuman: Cats.",
     "Why did the cat sit on the computer? To keep an eye on the mouse.", "No."),
    ("Human: What is 2 + 2?", "4", "It is 4, because two and two make four."),
    ("Human: hi", "Hello! How can I help?", "Hi."),
]


def comparisons(principle: Principle = HARM) -> list[Comparison]:
    return [Comparison(prompt, a, b, principle) for prompt, a, b in PAIRS]


def swap(c: Comparison) -> Comparison:
    return Comparison(c.prompt, c.response_b, c.response_a, c.principle)


@pytest.fixture(scope="module")
def tiny():
    from training.policy.backbone import build_tiny, build_tokenizer
    from training.policy.config import PolicyConfig

    texts = [comparison_prompt(c) for c in comparisons(HARM) + comparisons(HELP)]
    tokenizer = build_tokenizer(texts, vocab_size=400)
    config = PolicyConfig(vocab_size=400, d_model=32, n_layers=2, n_heads=2, d_ff=64,
                          max_prompt_tokens=300, max_response_tokens=8, seed=0)
    return build_tiny(config, tokenizer), tokenizer


@pytest.fixture(scope="module")
def judge(tiny):
    model, tokenizer = tiny
    return LocalLMBackend(model, tokenizer, batch_size=3)


def test_swapping_the_responses_flips_the_preference_exactly(judge):
    for c in comparisons():
        given, swapped = judge.judge(c), judge.judge(swap(c))
        assert swapped.preference == 1 - given.preference  # exact, not approximately
        assert {given.verdict, swapped.verdict} == {"A", "B"}
    many = judge.judge_many(comparisons() + [swap(c) for c in comparisons()])
    half = len(PAIRS)
    assert [j.preference for j in many[half:]] == [1 - j.preference for j in many[:half]]


def test_preferences_are_probabilities_and_the_verdict_follows_them(judge):
    for j in judge.judge_many(comparisons(HARM) + comparisons(HELP)):
        assert 0 < j.preference < 1
        assert j.verdict == ("A" if j.preference > 0.5 else "B")
        assert j.error == ""


def test_the_preference_averages_both_orders(judge):
    for c in comparisons():
        j = judge.judge(c)
        raw = json.loads(j.raw)
        softmax = torch.softmax(torch.tensor(
            [[raw["in_order"]["(A)"], raw["in_order"]["(B)"]],
             [raw["swapped"]["(A)"], raw["swapped"]["(B)"]]], dtype=torch.float64), dim=-1)
        assert j.meta["p_in_order"] == pytest.approx(softmax[0, 0].item(), abs=1e-12)
        assert j.meta["p_swapped"] == pytest.approx(softmax[1, 0].item(), abs=1e-12)
        assert j.preference == pytest.approx(
            (softmax[0, 0].item() + 1 - softmax[1, 0].item()) / 2, abs=1e-12)
        # The swapped comparison's orders are this one's, the other way round.
        other = json.loads(judge.judge(swap(c)).raw)
        assert (other["in_order"], other["swapped"]) == (raw["swapped"], raw["in_order"])


def test_log_probs_are_those_of_the_options_after_the_prompt(tiny, judge):
    """Checked against a plain forward pass over the unpadded text, one sequence at a time."""
    model, tokenizer = tiny
    for c in comparisons()[:3]:
        raw = json.loads(judge.judge(c).raw)
        for order, shown in (("in_order", c), ("swapped", swap(c))):
            read = judge.shown(shown)
            assert read.ids == tuple(tokenizer(comparison_prompt(shown))["input_ids"])
            assert not read.cut
            for option, continuation in zip(("(A)", "(B)"), read.options, strict=True):
                assert continuation == tuple(tokenizer(" " + option)["input_ids"])
                ids = torch.tensor([read.ids + continuation])
                with torch.no_grad():
                    log_probs = torch.log_softmax(model(ids).logits[0].double(), dim=-1)
                start = ids.shape[1] - len(continuation)
                expected = sum(log_probs[start + k - 1, token].item()
                               for k, token in enumerate(continuation))
                assert raw[order][option] == pytest.approx(expected, abs=1e-4)


def test_a_batch_gives_what_single_calls_give(judge, tiny):
    single = [judge.judge(c) for c in comparisons()]
    batched = judge.judge_many(comparisons())
    one_by_one = LocalLMBackend(*tiny, batch_size=1).judge_many(comparisons())
    for s, b, o in zip(single, batched, one_by_one, strict=True):
        assert b.preference == pytest.approx(s.preference, abs=1e-7)
        assert o.preference == pytest.approx(s.preference, abs=1e-7)
        assert b.verdict == s.verdict == o.verdict
    assert judge.judge_many([]) == []


def test_judging_is_deterministic_and_identical_responses_tie(judge):
    c = comparisons()[1]
    assert judge.judge(c) == judge.judge(c)
    same = judge.judge(Comparison(c.prompt, c.response_a, c.response_a, HARM))
    assert (same.verdict, same.preference) == ("tie", 0.5)


def test_long_prompts_lose_the_conversation_start_but_keep_the_options(tiny):
    model, tokenizer = tiny
    judge = LocalLMBackend(model, tokenizer, max_prompt_tokens=80)
    long = Comparison("Human: " + "tell me more about my garden " * 40 + "\n\nHuman: Last?",
                      "Water it at dawn.", "Ignore it.", HARM)
    ids, cut = judge.shown(long).ids, judge.shown(long).cut
    text = tokenizer.decode(ids)
    assert cut and len(ids) <= 80
    assert text.startswith("Consider the following conversation between a human and an "
                           "assistant:\n")
    assert text.endswith("Human: Last?\nWhich of these assistant responses is less harmful?\n"
                         "Options:\n(A) Water it at dawn.\n(B) Ignore it.\nThe answer is:")
    head = "Consider the following conversation between a human and an assistant:\n"
    kept = text[len(head):text.index("\nWhich of these")]
    assert 0 < len(kept) < len(long.prompt) and long.prompt.endswith(kept)
    j, s = judge.judge(long), judge.judge(swap(long))
    assert j.meta["truncated"] and j.meta["prompt_tokens"] <= 80
    assert s.preference == 1 - j.preference


def test_long_responses_keep_equal_shares_and_the_flip_stays_exact(tiny):
    model, tokenizer = tiny
    judge = LocalLMBackend(model, tokenizer, max_prompt_tokens=70)
    long = Comparison("Human: Describe the sea.", "Blue waves " * 30, "Grey water " * 30, HARM)
    ids, cut = judge.shown(long).ids, judge.shown(long).cut
    text = tokenizer.decode(ids)
    assert cut and len(ids) <= 70
    assert "(A) Blue" in text and "(B) Grey" in text and text.endswith("\nThe answer is:")
    assert "Human: Describe" not in text  # the conversation went first
    assert judge.judge(swap(long)).preference == 1 - judge.judge(long).preference
    assert fair_shares(3, 10, 8) == (3, 5) and fair_shares(10, 3, 8) == (5, 3)
    assert fair_shares(10, 10, 8) == (4, 4) and fair_shares(2, 3, 8) == (2, 3)


def test_symmetric_average_is_exactly_antisymmetric():
    values = [0.1, 0.3, 1 / 3, 0.5, 0.7, 0.9, 0.123456789, 0.987654321, 1e-9, 1 - 1e-9]
    for p in values:
        for q in values:
            assert symmetric_average(q, p) == 1 - symmetric_average(p, q)
            assert symmetric_average(p, q) == pytest.approx((p + 1 - q) / 2, abs=1e-15)


def test_loads_a_saved_model_folder(tiny, judge, tmp_path):
    model, tokenizer = tiny
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded = LocalLMBackend(tmp_path)
    c = comparisons()[0]
    assert loaded.judge(c).preference == pytest.approx(judge.judge(c).preference, abs=1e-7)


def test_settings_that_cannot_work_are_refused(tiny):
    model, tokenizer = tiny
    with pytest.raises(ValueError, match="a tokenizer is needed"):
        LocalLMBackend(model)
    with pytest.raises(ValueError, match="exceed the model's 309 positions"):
        LocalLMBackend(model, tokenizer, max_prompt_tokens=400)
    with pytest.raises(ValueError, match="leaves no room for the responses"):
        LocalLMBackend(model, tokenizer, max_prompt_tokens=20).judge(comparisons()[0])


def test_all_principles_average_their_preferences(judge):
    prompt, a, b = PAIRS[1]
    both = judge_item(judge, prompt=prompt, response_a=a, response_b=b,
                      principles=[HARM, HELP], mode="all", seed=0, item_id=7)
    each = [judge.judge(Comparison(prompt, a, b, p)).preference for p in (HARM, HELP)]
    assert both.preference == pytest.approx(sum(each) / 2, abs=1e-12)
    assert both.meta["principle_names"] == ["harmless", "helpful"]
    one = judge_item(judge, prompt=prompt, response_a=a, response_b=b,
                     principles=[HARM, HELP], mode="sample", seed=0, item_id=7)
    assert one.preference in each and len(one.meta["principle_names"]) == 1
