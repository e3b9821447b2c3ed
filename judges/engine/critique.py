"""Critique and revise (SL-CAI, Bai et al. 2022): a generative model reviews a response
against one principle, then rewrites it in the light of its own critique.

Each round draws one principle (seeded through SHA-256 as :func:`sampling.choose` does,
keyed by the item and the round, so a rerun anywhere draws the same ones), sends
:func:`prompts.critique_messages`, then :func:`prompts.revision_messages` with the
critique, and the next round revises the latest successful revision.

Strict: a round whose critique or revision is empty, whose revision is the text it was
asked to revise, or whose request failed at the endpoint is recorded as failed with the
reason; its text is never kept, and the next round starts again from the last good text.

``complete(messages) -> str`` is any generative backend:
:meth:`judges.engine.http_backend.HttpBackend.complete`, or :func:`local_generator` on a
local Hugging Face causal LM.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from judges.engine import prompts
from judges.engine.http_backend import EndpointError
from judges.engine.sampling import choose
from judges.engine.types import Principle

Complete = Callable[[list[dict]], str]


@dataclass(frozen=True)
class Revision:
    """One round: the principle drawn, the text it revised, the critique and the revision."""

    round: int  # 1, 2, ...
    principle: str  # the principle's name
    response: str  # the text this round was asked to revise
    critique: str
    revision: str  # the revised text ("" when the round failed before revising)
    failed: bool = False
    reason: str = ""  # why the round failed


def critique_and_revise(complete: Complete, prompt: str, response: str,
                        principles: Sequence[Principle], *, rounds: int = 1, seed: int = 0,
                        item_id: int | str = "") -> list[Revision]:
    """``rounds`` rounds of critique and revision of ``response`` (the assistant's reply to
    ``prompt``), one :class:`Revision` per round, failed ones included."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, not {rounds}")
    if not principles:
        raise ValueError("the constitution has no principles")
    lacking = [p.name for p in principles if not (p.critique.strip() and p.revision.strip())]
    if lacking:
        raise ValueError("principles without a critique or revision request cannot revise: "
                         + ", ".join(lacking))
    current = prompts.clean(response)
    done: list[Revision] = []
    for number in range(1, rounds + 1):
        principle = choose(principles, mode="sample", seed=seed,
                           item_id=f"{item_id}:round-{number}")[0]
        outcome = one_round(complete, prompt, current, principle, number)
        done.append(outcome)
        if not outcome.failed:
            current = outcome.revision
    return done


def one_round(complete: Complete, prompt: str, text: str, principle: Principle,
              number: int) -> Revision:
    def failed(reason: str, critique: str = "", revision: str = "") -> Revision:
        return Revision(number, principle.name, text, critique, revision, True, reason)

    try:
        critique = prompts.clean(complete(prompts.critique_messages(prompt, text, principle)))
    except EndpointError as error:
        return failed(f"the critique request failed: {error}")
    if not critique:
        return failed("the critique is empty")
    try:
        revision = prompts.clean(complete(
            prompts.revision_messages(prompt, text, critique, principle)))
    except EndpointError as error:
        return failed(f"the revision request failed: {error}", critique)
    if not revision:
        return failed("the revision is empty", critique)
    if revision == text:
        return failed("the revision is the same as the text it revises", critique, revision)
    return Revision(number, principle.name, text, critique, revision)


def final_text(revisions: Sequence[Revision]) -> str | None:
    """The last successful revision, or None when no round succeeded."""
    good = [r.revision for r in revisions if not r.failed]
    return good[-1] if good else None


# -- a local causal LM as `complete` ---------------------------------------------------------


def plain_chat(messages: Sequence[dict]) -> str:
    """The conversation as "Human: ...\\n\\nAssistant: ..." ending with "Assistant:" for the
    next turn; a system message goes first as a paragraph of its own."""
    parts = []
    for message in messages:
        content = prompts.clean(message["content"])
        role = message["role"]
        if role == "system":
            parts.append(content)
        elif role == "user":
            parts.append(f"Human: {content}")
        elif role == "assistant":
            parts.append(f"Assistant: {content}")
        else:
            raise ValueError(f"unknown role {role!r}")
    parts.append("Assistant:")
    return "\n\n".join(parts)


def local_generator(model, tokenizer, max_new_tokens: int = 256, seed: int = 0, *,
                    temperature: float = 1.0, top_p: float = 1.0,
                    device: str | None = None) -> Complete:
    """A ``complete(messages)`` on a Hugging Face causal LM and its tokenizer.

    The tokenizer's chat template is used when it has one, else :func:`plain_chat`.
    Sampling is seeded afresh on every call (temperature 0: greedy), so the same messages
    give the same text. A prompt too long for the model's positions loses its start.
    """
    import torch

    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, not {max_new_tokens}")
    if temperature < 0 or not 0 < top_p <= 1:
        raise ValueError("temperature must be >= 0 and top_p in (0, 1]")
    device = device or str(next(model.parameters()).device)
    model = model.to(device).eval()
    positions = getattr(model.config, "max_position_embeddings", None)
    room = None if positions is None else positions - max_new_tokens
    if room is not None and room < 1:
        raise ValueError(f"max_new_tokens {max_new_tokens} leaves no room for the prompt in "
                         f"the model's {positions} positions")
    where = torch.device(device)
    cuda = [where.index or 0] if where.type == "cuda" else []  # the generators to reseed
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def complete(messages: list[dict]) -> str:
        if getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template(messages, tokenize=False,
                                                 add_generation_prompt=True)
        else:
            text = plain_chat(messages)
        ids = tokenizer(text, return_tensors="pt")["input_ids"]
        if room is not None:
            ids = ids[:, -room:]  # keep the latest turns and the cue
        sampling = {"do_sample": False} if temperature == 0 else {
            "do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0}
        with torch.random.fork_rng(devices=cuda), torch.no_grad():
            torch.manual_seed(seed)
            out = model.generate(ids.to(device), attention_mask=torch.ones_like(ids).to(device),
                                 max_new_tokens=max_new_tokens, pad_token_id=pad,
                                 eos_token_id=tokenizer.eos_token_id, **sampling)
        new = out[0, ids.shape[1]:].tolist()
        return tokenizer.decode(new, skip_special_tokens=True).strip()

    return complete
