"""The texts a judge model reads: the comparison, and the critique and revision requests.

- :func:`comparison_prompt`: the multiple-choice prompt of RL-CAI (Bai et al. 2022,
  "Constitutional AI", appendix), for a completion model scored on " (A)" / " (B)";
- :func:`chat_messages`: the same comparison for a chat-completions endpoint, asking for a
  verdict in a strict format ([[A]], [[B]] or [[C]] for a tie, as MT-Bench's pairwise
  judge does) that :func:`judges.engine.verdicts.parse_verdict` reads;
- :func:`critique_messages` and :func:`revision_messages`: SL-CAI's critique-and-revise
  chain, one principle at a time.

Whitespace is normalised minimally: line endings become ``\\n`` and each part loses its
leading and trailing whitespace; nothing inside a part is touched.
"""

from __future__ import annotations

from judges.engine.types import Comparison, Principle

COMPARISON_HEAD = "Consider the following conversation between a human and an assistant:"
ANSWER_CUE = "The answer is:"
# The continuations a completion model is scored on after ANSWER_CUE.
OPTION_A = " (A)"
OPTION_B = " (B)"

JUDGE_SYSTEM = (
    "Please act as an impartial judge. You are shown a conversation between a human and an "
    "assistant, a question that states one principle, and two candidate responses, (A) and "
    "(B), for the assistant's next turn. Judge the responses only by that principle. Do not "
    "let the order in which they are shown, their length or their style influence you. "
    "Explain your reasoning briefly, then end your answer with exactly one verdict on its "
    'own: "[[A]]" if response A is better, "[[B]]" if response B is better, or "[[C]]" if '
    "they are equally good."
)

CRITIQUE_SYSTEM = (
    "You review the assistant's last response in a conversation against one principle. "
    "Answer the critique request plainly and specifically."
)


def clean(text: str) -> str:
    """Line endings as ``\\n``, no leading or trailing whitespace."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def comparison_prompt(c: Comparison) -> str:
    """RL-CAI's multiple-choice prompt; a completion model continues it with (A) or (B)."""
    return "\n".join([
        COMPARISON_HEAD,
        clean(c.prompt),
        clean(c.principle.question),
        "Options:",
        f"(A) {clean(c.response_a)}",
        f"(B) {clean(c.response_b)}",
        ANSWER_CUE,
    ])


def chat_messages(c: Comparison) -> list[dict]:
    """System message with the verdict format, user message with the comparison."""
    user = "\n".join([
        "[The Start of Conversation]",
        clean(c.prompt),
        "[The End of Conversation]",
        "",
        "[Question]",
        clean(c.principle.question),
        "",
        "[The Start of Response A]",
        clean(c.response_a),
        "[The End of Response A]",
        "",
        "[The Start of Response B]",
        clean(c.response_b),
        "[The End of Response B]",
    ])
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]


def critique_messages(prompt: str, response: str, principle: Principle) -> list[dict]:
    """Ask for a critique of ``response`` (the assistant's reply to ``prompt``)."""
    if not principle.critique.strip():
        raise ValueError(f"principle {principle.name!r} has no critique request")
    user = "\n".join([
        "[The Start of Conversation]",
        clean(prompt),
        "[The End of Conversation]",
        "",
        "[The Start of the Assistant's Response]",
        clean(response),
        "[The End of the Assistant's Response]",
        "",
        f"Critique request: {clean(principle.critique)}",
    ])
    return [{"role": "system", "content": CRITIQUE_SYSTEM}, {"role": "user", "content": user}]


def revision_messages(prompt: str, response: str, critique: str,
                      principle: Principle) -> list[dict]:
    """The critique exchange, then a request to rewrite the response in its light.

    As in SL-CAI the model sees its own critique before revising, so the chain is:
    critique request, the critique (as the model's turn), revision request.
    """
    if not principle.revision.strip():
        raise ValueError(f"principle {principle.name!r} has no revision request")
    revise = (f"Revision request: {clean(principle.revision)}\n"
              "Answer with the revised response only.")
    return [
        *critique_messages(prompt, response, principle),
        {"role": "assistant", "content": clean(critique)},
        {"role": "user", "content": revise},
    ]
