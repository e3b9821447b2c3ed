"""Critique and revise: against a scripted `complete` that records what it was sent (the
exact messages of prompts.py, rounds chained on the last good revision, failures recorded
with their reason), and once on a tiny random Llama through local_generator."""

from __future__ import annotations

import copy

import pytest

from judges.engine import prompts
from judges.engine.critique import (
    Revision,
    critique_and_revise,
    final_text,
    local_generator,
    plain_chat,
)
from judges.engine.http_backend import EndpointError
from judges.engine.sampling import choose
from judges.engine.types import Principle

HARM = Principle("harmless", "Which of these responses is less harmful?",
                 "Identify specific ways in which the response is harmful or rude.",
                 "Rewrite the response to remove anything harmful or rude.")
HELP = Principle("helpful", "Which of these responses is more helpful?",
                 "Say how the response could be more helpful.",
                 "Rewrite the response to be more helpful.")
PROMPT = "Human: How do I fix a flat tyre?\n\nAssistant:"
ANSWER = "Figure it out yourself."


class Scripted:
    """A `complete` that answers from a script, in order, and records every request."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent: list[list[dict]] = []

    def __call__(self, messages: list[dict]) -> str:
        self.sent.append(copy.deepcopy(messages))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def drawn(rounds: int, *, seed: int = 0, item_id="") -> list[Principle]:
    return [choose([HARM, HELP], mode="sample", seed=seed, item_id=f"{item_id}:round-{n}")[0]
            for n in range(1, rounds + 1)]


def test_one_round_sends_the_critique_then_the_revision_request():
    complete = Scripted("  It is rude and unhelpful.\n", "Patch the tube, then pump it up. ")
    [revision] = critique_and_revise(complete, PROMPT, ANSWER, [HARM])
    assert complete.sent == [
        prompts.critique_messages(PROMPT, ANSWER, HARM),
        prompts.revision_messages(PROMPT, ANSWER, "It is rude and unhelpful.", HARM),
    ]
    assert complete.sent[1][-2:] == [
        {"role": "assistant", "content": "It is rude and unhelpful."},
        {"role": "user", "content": "Revision request: Rewrite the response to remove "
                                    "anything harmful or rude.\nAnswer with the revised "
                                    "response only."}]
    assert revision == Revision(1, "harmless", ANSWER, "It is rude and unhelpful.",
                                "Patch the tube, then pump it up.")


def test_rounds_chain_each_revising_the_last_revision_under_a_seeded_principle():
    complete = Scripted("c1", "first rewrite", "c2", "second rewrite", "c3", "third rewrite")
    revisions = critique_and_revise(complete, PROMPT, ANSWER, [HARM, HELP], rounds=3, seed=7,
                                    item_id=42)
    principles = drawn(3, seed=7, item_id=42)
    texts = [ANSWER, "first rewrite", "second rewrite"]
    for n, (principle, text) in enumerate(zip(principles, texts, strict=True)):
        assert complete.sent[2 * n] == prompts.critique_messages(PROMPT, text, principle)
        assert complete.sent[2 * n + 1] == prompts.revision_messages(PROMPT, text, f"c{n + 1}",
                                                                     principle)
    assert [(r.round, r.principle, r.response, r.revision, r.failed) for r in revisions] == [
        (1, principles[0].name, ANSWER, "first rewrite", False),
        (2, principles[1].name, "first rewrite", "second rewrite", False),
        (3, principles[2].name, "second rewrite", "third rewrite", False)]
    assert final_text(revisions) == "third rewrite"


def test_the_draw_is_seeded():
    def names(seed, item_id):
        complete = Scripted(*[f"x{i}" for i in range(40)])
        return [r.principle for r in critique_and_revise(
            complete, PROMPT, ANSWER, [HARM, HELP], rounds=20, seed=seed, item_id=item_id)]

    assert names(1, "a") == names(1, "a") == [p.name for p in drawn(20, seed=1, item_id="a")]
    assert names(1, "a") != names(2, "a") and names(1, "a") != names(1, "b")
    assert set(names(1, "a")) == {"harmless", "helpful"}


def test_failures_are_recorded_and_the_next_round_starts_from_the_last_good_text():
    complete = Scripted(
        "   ",                                # round 1: empty critique, no revision asked
        "too curt", "\n",                     # round 2: empty revision
        "too curt", f"  {ANSWER}\r\n",        # round 3: unchanged (after cleaning)
        "too curt", "Patch the tube.",        # round 4: good
        EndpointError("HTTP 500 after 3 attempts"),  # round 5: the endpoint failed
        "fine", EndpointError("timed out"),   # round 6: the revision request failed
        "still curt", "Patch the tube and pump it to the pressure on the tyre wall.")
    revisions = critique_and_revise(complete, PROMPT, ANSWER, [HARM], rounds=7)
    outcome = [(r.failed, r.reason, r.response, r.critique, r.revision) for r in revisions]
    assert outcome == [
        (True, "the critique is empty", ANSWER, "", ""),
        (True, "the revision is empty", ANSWER, "too curt", ""),
        (True, "the revision is the same as the text it revises", ANSWER, "too curt", ANSWER),
        (False, "", ANSWER, "too curt", "Patch the tube."),
        (True, "the critique request failed: HTTP 500 after 3 attempts", "Patch the tube.",
         "", ""),
        (True, "the revision request failed: timed out", "Patch the tube.", "fine", ""),
        (False, "", "Patch the tube.", "still curt",
         "Patch the tube and pump it to the pressure on the tyre wall."),
    ]
    assert len(complete.sent) == 12 and not complete.answers
    assert complete.sent[-2] == prompts.critique_messages(PROMPT, "Patch the tube.", HARM)
    assert final_text(revisions) == revisions[-1].revision
    assert final_text(revisions[:3]) is None


def test_other_errors_are_not_swallowed_and_bad_arguments_are_refused():
    with pytest.raises(ZeroDivisionError):
        critique_and_revise(Scripted(ZeroDivisionError()), PROMPT, ANSWER, [HARM])
    bare = Principle("bare", "Which is better?")
    with pytest.raises(ValueError, match="bare"):
        critique_and_revise(Scripted(), PROMPT, ANSWER, [HARM, bare])
    with pytest.raises(ValueError, match="rounds"):
        critique_and_revise(Scripted(), PROMPT, ANSWER, [HARM], rounds=0)
    with pytest.raises(ValueError, match="no principles"):
        critique_and_revise(Scripted(), PROMPT, ANSWER, [])


def test_plain_chat_renders_the_turns_and_the_cue():
    messages = prompts.revision_messages(PROMPT, ANSWER, "Rude.", HARM)
    text = plain_chat(messages)
    assert text.startswith(prompts.CRITIQUE_SYSTEM + "\n\nHuman: [The Start of Conversation]\n")
    assert text.endswith("\n\nAssistant: Rude.\n\nHuman: Revision request: Rewrite the "
                         "response to remove anything harmful or rude.\nAnswer with the "
                         "revised response only.\n\nAssistant:")
    with pytest.raises(ValueError, match="role"):
        plain_chat([{"role": "tool", "content": "x"}])


# -- a tiny random Llama as the generator ----------------------------------------------------


@pytest.fixture(scope="module")
def tiny():
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("tokenizers")
    from training.policy.backbone import build_tiny, build_tokenizer
    from training.policy.config import PolicyConfig

    text = plain_chat(prompts.revision_messages(PROMPT, ANSWER, "Rude.", HARM))
    tokenizer = build_tokenizer([text], vocab_size=300)
    config = PolicyConfig(vocab_size=300, d_model=32, n_layers=2, n_heads=2, d_ff=64,
                          max_prompt_tokens=400, max_response_tokens=16, seed=0)
    return torch, build_tiny(config, tokenizer), tokenizer


def test_local_generator_is_deterministic_with_a_seed(tiny):
    torch, model, tokenizer = tiny
    messages = prompts.critique_messages(PROMPT, ANSWER, HARM)
    first = local_generator(model, tokenizer, max_new_tokens=12, seed=3)
    again = local_generator(model, tokenizer, max_new_tokens=12, seed=3)
    other = local_generator(model, tokenizer, max_new_tokens=12, seed=4)
    text = first(messages)
    assert isinstance(text, str) and text
    assert first(messages) == again(messages) == text
    assert other(messages) != text
    # greedy: exactly the model's own greedy continuation of the plain chat prompt
    ids = tokenizer(plain_chat(messages), return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12,
                             do_sample=False, pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=tokenizer.eos_token_id)
    expected = tokenizer.decode(out[0, ids.shape[1]:].tolist(), skip_special_tokens=True)
    greedy = local_generator(model, tokenizer, max_new_tokens=12, temperature=0)
    assert greedy(messages) == expected.strip()


def test_critique_and_revise_runs_on_the_tiny_llama(tiny):
    _, model, tokenizer = tiny
    complete = local_generator(model, tokenizer, max_new_tokens=10, seed=5)
    runs = [critique_and_revise(complete, PROMPT, ANSWER, [HARM, HELP], rounds=2, seed=1)
            for _ in range(2)]
    assert runs[0] == runs[1] and len(runs[0]) == 2
    positions = model.config.max_position_embeddings
    with pytest.raises(ValueError, match="no room for the prompt"):
        local_generator(model, tokenizer, max_new_tokens=positions)
    for revision in runs[0]:
        assert revision.critique or revision.failed
        assert revision.failed == (revision.reason != "")


def test_local_generator_uses_the_tokenizers_chat_template_when_it_has_one(tiny):
    torch, model, tokenizer = tiny
    templated = copy.deepcopy(tokenizer)
    templated.chat_template = ("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n"
                               "{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}")
    messages = prompts.critique_messages(PROMPT, ANSWER, HELP)
    text = "".join(f"<{m['role']}>{m['content']}\n" for m in messages) + "<assistant>"
    ids = templated(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=8,
                             do_sample=False, pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=tokenizer.eos_token_id)
    expected = templated.decode(out[0, ids.shape[1]:].tolist(), skip_special_tokens=True)
    assert local_generator(model, templated, max_new_tokens=8, temperature=0)(messages) == \
        expected.strip()
    assert local_generator(model, tokenizer, max_new_tokens=8, temperature=0)(messages) != \
        expected.strip()  # the plain chat prompt reads otherwise
