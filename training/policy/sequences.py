"""Text to token batches, and the summed response log-probabilities of a batch.

A pair is encoded once: the prompt (followed by ``PROMPT_SUFFIX``) keeps its *last*
``max_prompt_tokens`` tokens (the end of a long conversation is what the response answers),
a response its *first* ``max_response_tokens`` tokens followed by the end token.

A batch row is laid out as ``[pad … pad | prompt | response | pad … pad]``: prompts are
padded on the left to the batch's longest prompt P, responses on the right to the longest
response R, so every response starts at column P. The model is then asked for the last
R + 1 positions only (``logits_to_keep``), which skips the vocabulary projection of every
prompt token; position ids count real tokens only, so padding changes nothing. For DPO the
chosen and rejected rows of a batch go through the model in one forward pass, chosen first.
No Django here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .losses import sequence_logps

PROMPT_SUFFIX = "\n\nAssistant:"


def response_text(response: str) -> str:
    """What follows ``PROMPT_SUFFIX``: the response after one space, as in a transcript."""
    return " " + response.strip()


@dataclass
class Encoder:
    tokenizer: object
    end_id: int
    max_prompt_tokens: int
    max_response_tokens: int

    def prompt(self, prompt: str) -> list[int]:
        ids = self.tokenizer(prompt.strip() + PROMPT_SUFFIX, add_special_tokens=False).input_ids
        return ids[-self.max_prompt_tokens :]

    def response(self, response: str) -> list[int]:
        ids = self.tokenizer(response_text(response), add_special_tokens=False).input_ids
        return ids[: self.max_response_tokens] + [self.end_id]


@dataclass
class Batch:
    input_ids: Tensor  # [N, P + R]
    attention_mask: Tensor  # [N, P + R]
    position_ids: Tensor  # [N, P + R]
    response_mask: Tensor  # [N, R]: 1 on response tokens (end token included)
    prompt_width: int  # P

    def to(self, device: str) -> Batch:
        return Batch(
            self.input_ids.to(device),
            self.attention_mask.to(device),
            self.position_ids.to(device),
            self.response_mask.to(device),
            self.prompt_width,
        )

    @property
    def labels(self) -> Tensor:  # [N, R]
        return self.input_ids[:, self.prompt_width :]

    @property
    def lengths(self) -> Tensor:  # [N] response tokens per row
        return self.response_mask.sum(-1)


def collate(prompts: Sequence[list[int]], responses: Sequence[list[int]], pad_id: int) -> Batch:
    width = max(len(p) for p in prompts)
    longest = max(len(r) for r in responses)
    n = len(prompts)
    ids = torch.full((n, width + longest), pad_id, dtype=torch.long)
    attention = torch.zeros((n, width + longest), dtype=torch.long)
    for row, (p, r) in enumerate(zip(prompts, responses, strict=True)):
        ids[row, width - len(p) : width] = torch.tensor(p)
        ids[row, width : width + len(r)] = torch.tensor(r)
        attention[row, width - len(p) : width + len(r)] = 1
    positions = (attention.cumsum(-1) - 1).clamp(min=0)
    return Batch(ids, attention, positions, attention[:, width:].clone(), width)


def pair_batch(
    prompts: Sequence[list[int]],
    chosen: Sequence[list[int]],
    rejected: Sequence[list[int]],
    pad_id: int,
) -> Batch:
    """2B rows: the B chosen rows, then the B rejected rows of the same prompts."""
    return collate(list(prompts) * 2, list(chosen) + list(rejected), pad_id)


def response_logits(model: nn.Module, batch: Batch) -> Tensor:
    """[N, R, V]: the distribution of every response column's token."""
    width = batch.response_mask.shape[1]
    out = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
        logits_to_keep=width + 1,
        use_cache=False,
    )
    return out.logits[:, :-1]


def batch_logps(model: nn.Module, batch: Batch) -> Tensor:
    """[N] summed log-probabilities of each row's response (end token included)."""
    return sequence_logps(response_logits(model, batch), batch.labels, batch.response_mask)


def pair_logps(model: nn.Module, batch: Batch) -> Tensor:
    """``batch_logps`` of a ``pair_batch`` (rows i and B + i share their prompt), each
    prompt computed once. -> [2B]: chosen, then rejected."""
    n, width = batch.input_ids.shape[0] // 2, batch.prompt_width
    head = model(
        input_ids=batch.input_ids[:n, :width],
        attention_mask=batch.attention_mask[:n, :width],
        position_ids=batch.position_ids[:n, :width],
        logits_to_keep=1,
        use_cache=True,
    )
    cache = head.cache
    cache.batch_select_indices(torch.arange(n, device=batch.input_ids.device).repeat(2))
    tail = model(
        input_ids=batch.input_ids[:, width:],
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids[:, width:],
        cache=cache,
        use_cache=True,
    )
    # The prompt's last position predicts the first response token of both rows.
    logits = torch.cat([head.logits[:, -1:].repeat(2, 1, 1), tail.logits[:, :-1]], dim=1)
    return sequence_logps(logits, batch.labels, batch.response_mask)
