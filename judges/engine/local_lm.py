"""A judge that is a local Hugging Face causal LM, read through its log-probabilities.

RL-CAI (Bai et al. 2022) scores a feedback model on the multiple-choice prompt of
:func:`judges.engine.prompts.comparison_prompt`: the log-probabilities of the continuations
" (A)" and " (B)", normalised against each other, are a soft label P(A is better). Language
models prefer one position over the other, so each comparison is also scored with the
responses swapped and the two soft labels are averaged:

    p = (softmax(A, B)[A] in the given order + 1 − softmax(A, B)[A] with A and B swapped) / 2

The average is computed so that swapping the responses flips it exactly, p(a, b) == 1 −
p(b, a) to the last bit (see :func:`symmetric_average`); identical responses are a tie.
Prompts longer than ``max_prompt_tokens`` lose the start of the conversation first, then
the ends of both responses (fair shares, so both orders read the same text); the
question, the options and the answer cue always stay. Nothing is sampled: the same model
and input give the same judgement.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import torch

from judges.engine import prompts
from judges.engine.types import Comparison, Judgement
from judges.engine.verdicts import verdict_for

Ids = tuple[int, ...]
MAX_SHORTENINGS = 8  # re-encoding a shortened text can merge tokens anew; a few rounds settle it


class Shown(NamedTuple):
    """One order of a comparison in token ids: the prompt, the two continuations, whether
    the prompt was cut to fit."""

    ids: Ids
    options: tuple[Ids, Ids]
    cut: bool


class LocalLMBackend:
    """The Backend protocol on a local causal LM (a folder, or a model already loaded).

    ``path_or_model`` is a folder for ``AutoModelForCausalLM.from_pretrained`` (its
    tokenizer is loaded from there unless given) or a ``PreTrainedModel``, which is moved
    to ``device`` and put in eval mode. ``max_prompt_tokens`` defaults to what the model's
    positions allow; ``batch_size`` is how many sequences go through the model at once.
    """

    def __init__(self, path_or_model, tokenizer=None, device: str = "cpu",
                 max_prompt_tokens: int | None = None, batch_size: int = 8) -> None:
        if isinstance(path_or_model, str | Path):
            from transformers import AutoModelForCausalLM, AutoTokenizer

            model = AutoModelForCausalLM.from_pretrained(str(path_or_model), dtype=torch.float32)
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(str(path_or_model))
        else:
            model = path_or_model
        if tokenizer is None:
            raise ValueError("a tokenizer is needed with a model that is already loaded")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, not {batch_size}")
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.device = device
        self.batch_size = batch_size
        self.options = (self.encode(prompts.OPTION_A), self.encode(prompts.OPTION_B))
        longest_option = max(len(option) for option in self.options)
        positions = getattr(model.config, "max_position_embeddings", None)
        if max_prompt_tokens is None:
            if positions is None:
                raise ValueError("the model does not say how long its inputs may be: "
                                 "set max_prompt_tokens")
            max_prompt_tokens = positions - longest_option
        if positions is not None and max_prompt_tokens + longest_option > positions:
            raise ValueError(f"max_prompt_tokens {max_prompt_tokens} and the options exceed "
                             f"the model's {positions} positions")
        self.max_prompt_tokens = max_prompt_tokens
        self.start = self.special_start()
        pad = tokenizer.pad_token_id
        pad = tokenizer.eos_token_id if pad is None else pad
        self.pad_id = int(pad) if pad is not None else 0  # padded positions are masked out
        self.keeps_logits = "logits_to_keep" in inspect.signature(model.forward).parameters

    # -- text to token ids ----------------------------------------------------------------

    def encode(self, text: str) -> Ids:
        return tuple(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def special_start(self) -> Ids:
        """The tokens the tokenizer puts before a text (a BOS for Llama, none for GPT-2)."""
        text = prompts.COMPARISON_HEAD
        plain = self.encode(text)
        full = tuple(self.tokenizer(text)["input_ids"])
        extra = len(full) - len(plain)
        return full[:extra] if extra > 0 and full[extra:extra + len(plain)] == plain else ()

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), clean_up_tokenization_spaces=False)

    def shown(self, c: Comparison) -> Shown:
        """The comparison as the model reads it, cut to ``max_prompt_tokens``.

        The prompt is encoded whole, as written out by :func:`prompts.comparison_prompt`; one
        that is too long is written out again from shortened parts (:meth:`shorten`).
        """
        conversation, a, b = (prompts.clean(t) for t in (c.prompt, c.response_a, c.response_b))
        cut = False
        for _ in range(MAX_SHORTENINGS):
            text = prompts.comparison_prompt(Comparison(conversation, a, b, c.principle))
            ids = self.start + self.encode(text)
            over = len(ids) - self.max_prompt_tokens
            if over <= 0:
                return Shown(ids, self.continuations(text, ids), cut)
            conversation, a, b = self.shorten(conversation, a, b, over)
            cut = True
        raise ValueError(f"the prompt does not shrink to max_prompt_tokens "
                         f"{self.max_prompt_tokens}")

    def shorten(self, conversation: str, a: str, b: str, over: int) -> tuple[str, str, str]:
        """``over`` tokens fewer: the conversation's start goes first, then the ends of both
        responses in fair shares. The question and the options' frame are never cut."""
        tokens = self.encode(conversation)
        dropped = min(over, len(tokens))
        conversation = self.decode(tokens[dropped:])  # keep the latest turns
        over -= dropped
        if over > 0:
            a_ids, b_ids = self.encode(a), self.encode(b)
            room = len(a_ids) + len(b_ids) - over
            if room < 2:
                raise ValueError(f"max_prompt_tokens {self.max_prompt_tokens} leaves no room "
                                 "for the responses after the question and the options' frame")
            keep_a, keep_b = fair_shares(len(a_ids), len(b_ids), room)
            a, b = self.decode(a_ids[:keep_a]), self.decode(b_ids[:keep_b])
        return conversation, a, b

    def continuations(self, text: str, ids: Ids) -> tuple[Ids, Ids]:
        """The ids of " (A)" and " (B)" after this prompt: what encoding prompt + option adds
        to the prompt's ids (as lm-evaluation-harness splits context and continuation), or
        the option encoded alone where the two encodings part before the prompt's end."""
        found = []
        for option, alone in zip((prompts.OPTION_A, prompts.OPTION_B), self.options,
                                 strict=True):
            whole = self.start + self.encode(text + option)
            extends = len(whole) > len(ids) and whole[:len(ids)] == ids
            found.append(whole[len(ids):] if extends else alone)
        return found[0], found[1]

    # -- scoring --------------------------------------------------------------------------

    @torch.no_grad()
    def log_probs(self, sequences: Sequence[tuple[Ids, Ids]]) -> dict[tuple[Ids, Ids], float]:
        """Sum of log p(continuation | prompt) for each distinct (prompt, continuation).

        The distinct sequences are sorted before batching, so one comparison and its swap
        (the same four sequences) go through the model in exactly the same batches.
        """
        distinct = sorted(set(sequences), key=lambda s: (len(s[0]) + len(s[1]), s))
        scores: dict[tuple[Ids, Ids], float] = {}
        for start in range(0, len(distinct), self.batch_size):
            batch = distinct[start:start + self.batch_size]
            scores.update(zip(batch, self.score_batch(batch), strict=True))
        return scores

    def score_batch(self, batch: list[tuple[Ids, Ids]]) -> list[float]:
        # Left padding puts every continuation at the end of its row: the logits needed are
        # the last `keep` positions of each row.
        rows = [prompt + continuation for prompt, continuation in batch]
        width = max(len(row) for row in rows)
        keep = max(len(continuation) for _, continuation in batch) + 1
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, width - len(row):] = torch.tensor(row)
            mask[i, width - len(row):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        inputs = {"input_ids": ids.to(self.device), "attention_mask": mask.to(self.device),
                  "position_ids": positions.to(self.device)}
        if self.keeps_logits:
            inputs["logits_to_keep"] = keep
        logits = self.model(**inputs).logits[:, -keep:].float()  # (rows, keep, vocab)
        log_softmax = torch.log_softmax(logits, dim=-1)
        scores = []
        for i, (_, continuation) in enumerate(batch):
            # Token j of the continuation is predicted at kept position keep - len - 1 + j.
            first = keep - len(continuation) - 1
            targets = torch.tensor(continuation, device=log_softmax.device)
            picked = log_softmax[i, first + torch.arange(len(continuation)), targets]
            scores.append(math.fsum(picked.double().tolist()))
        return scores

    # -- the Backend protocol -------------------------------------------------------------

    def judge(self, comparison: Comparison) -> Judgement:
        return self.judge_many([comparison])[0]

    def judge_many(self, comparisons: list[Comparison]) -> list[Judgement]:
        orders = []  # per comparison: as given, then with the responses swapped
        for c in comparisons:
            swapped = Comparison(c.prompt, c.response_b, c.response_a, c.principle)
            orders.append((self.shown(c), self.shown(swapped)))
        wanted = [(shown.ids, option) for pair in orders for shown in pair
                  for option in shown.options]
        scores = self.log_probs(wanted)
        return [self.judgement(given, swapped, scores) for given, swapped in orders]

    def judgement(self, given: Shown, swapped: Shown, scores) -> Judgement:
        given_lp = tuple(scores[given.ids, option] for option in given.options)
        swapped_lp = tuple(scores[swapped.ids, option] for option in swapped.options)
        p_given = sigmoid(given_lp[0] - given_lp[1])  # softmax over the two options
        p_swapped = sigmoid(swapped_lp[0] - swapped_lp[1])
        preference = symmetric_average(p_given, p_swapped)
        verdict = verdict_for(preference)
        raw = json.dumps({"in_order": {"(A)": given_lp[0], "(B)": given_lp[1]},
                          "swapped": {"(A)": swapped_lp[0], "(B)": swapped_lp[1]}})
        meta = {"p_in_order": p_given, "p_swapped": p_swapped,
                "prompt_tokens": len(given.ids), "truncated": given.cut or swapped.cut}
        return Judgement(verdict=verdict, preference=0.5 if verdict == "tie" else preference,
                         raw=raw, meta=meta)


def fair_shares(length_a: int, length_b: int, room: int) -> tuple[int, int]:
    """How many leading tokens of each response to keep in ``room``; symmetric in A and B."""
    if length_a + length_b <= room:
        return length_a, length_b
    share = room // 2
    if length_a <= share:
        return length_a, room - length_a
    if length_b <= share:
        return room - length_b, length_b
    return share, share


def sigmoid(x: float) -> float:
    """softmax([x, 0])[0], without overflow."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def symmetric_average(p_given: float, p_swapped: float) -> float:
    """(p_given + 1 − p_swapped) / 2, rounded so that exchanging the arguments gives exactly
    1 − the result: ``half`` flips sign exactly, and the negative side is computed as the
    complement of the positive one."""
    half = (p_given - p_swapped) / 2
    return 0.5 + half if half >= 0 else 1.0 - (0.5 - half)
