"""Rollouts: G sampled completions per prompt, and their per-token log-probabilities.

``sample`` draws every completion of a batch at once: prompts padded on the left, one
forward pass over them, then one token per step for all rows over the KV cache, from a
private ``torch.Generator`` (a seed fixes the batch; the global random state is left
alone). A row stops at its end token; the rows still going set the loop's length.

A rollout is then laid out exactly as a DPO batch (:func:`..sequences.collate`):
``[pad … | prompt | completion | pad …]``, so ``completion_mask`` [N, R] is 1 on the
sampled tokens (the end token included when it was sampled) and 0 on the padding after it.
``token_logps`` gives, for each completion column, log π(y_t) (0 where masked), the
entropy of π there, and optionally the last hidden state that chose y_t (PPO's value head
reads it). No Django here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..policy import Policy, nucleus
from ..sequences import Batch, collate


@dataclass
class Rollout:
    prompts: list[str]  # [N] each prompt repeated G times, in groups
    completions: list[str]  # [N] decoded, without the end token
    batch: Batch  # prompt + completion ids; batch.response_mask is the completion mask
    ended: Tensor  # [N] bool: the completion emitted the end token

    @property
    def mask(self) -> Tensor:  # [N, R]
        return self.batch.response_mask

    @property
    def lengths(self) -> Tensor:  # [N]
        return self.batch.lengths


@torch.no_grad()
def sample(
    model: nn.Module,
    prompt_ids: Sequence[list[int]],
    *,
    end_id: int,
    pad_id: int,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    generator: torch.Generator,
    device: str,
) -> list[list[int]]:
    """One completion per prompt (ids, the end token included when sampled)."""
    was_training = model.training
    model.eval()
    n, width = len(prompt_ids), max(len(p) for p in prompt_ids)
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    attention = torch.zeros((n, width), dtype=torch.long)
    for row, p in enumerate(prompt_ids):
        ids[row, width - len(p) :] = torch.tensor(p)
        attention[row, width - len(p) :] = 1
    ids, attention = ids.to(device), attention.to(device)
    positions = (attention.cumsum(-1) - 1).clamp(min=0)
    out = model(
        input_ids=ids,
        attention_mask=attention,
        position_ids=positions,
        logits_to_keep=1,
        use_cache=True,
    )
    done = torch.zeros(n, dtype=torch.bool, device=device)
    columns = []
    for _ in range(max_new_tokens):
        logits = out.logits[:, -1].float()
        if temperature == 0:
            token = logits.argmax(-1)
        else:
            probs = nucleus(torch.softmax(logits / temperature, -1), top_p)
            token = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        token = token.where(~done, torch.full_like(token, pad_id))
        columns.append(token)
        done |= token == end_id
        if bool(done.all()):
            break
        attention = torch.cat([attention, attention.new_ones((n, 1))], dim=1)
        positions = positions[:, -1:] + 1
        out = model(
            input_ids=token[:, None],
            attention_mask=attention,
            position_ids=positions,
            cache=out.cache,
            use_cache=True,
        )
    model.train(was_training)
    new = torch.stack(columns, dim=1).tolist()
    return [until_end(row, end_id) for row in new]


def until_end(row: list[int], end_id: int) -> list[int]:
    return row[: row.index(end_id) + 1] if end_id in row else row


def decode(policy: Policy, ids: list[int]) -> str:
    """As ``Policy.generate`` returns it: no end token, no leading space."""
    if ids and ids[-1] == policy.encoder.end_id:
        ids = ids[:-1]
    text = policy.tokenizer.decode(ids, skip_special_tokens=True)
    return text[1:] if text.startswith(" ") else text


def rollout(
    policy: Policy,
    model: nn.Module,
    prompts: Sequence[str],
    *,
    group_size: int,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    generator: torch.Generator,
) -> Rollout:
    """``group_size`` completions of each prompt from ``model``, grouped by prompt."""
    encoded = {p: policy.encoder.prompt(p) for p in prompts}
    texts = [p for p in prompts for _ in range(group_size)]
    prompt_ids = [encoded[p] for p in texts]
    pad, end = int(policy.tokenizer.pad_token_id), policy.encoder.end_id
    completions = sample(
        model,
        prompt_ids,
        end_id=end,
        pad_id=pad,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
        generator=generator,
        device=policy.device,
    )
    batch = collate(prompt_ids, completions, pad).to(policy.device)
    ended = torch.tensor([bool(c) and c[-1] == end for c in completions], device=policy.device)
    return Rollout(texts, [decode(policy, c) for c in completions], batch, ended)


def gathered_logps(logits: Tensor, labels: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """([N, R] log π(label), [N, R] entropy), both 0 where mask is 0. ``logits`` [N, R, V]
    are aligned with ``labels``; masked columns play no part, whatever their logits."""
    logp_all = F.log_softmax(logits.float(), dim=-1)
    picked = logp_all.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    keep = mask.bool()
    zero = picked.new_zeros(())
    return picked.where(keep, zero), entropy.where(keep, zero)


def token_logps(
    model: nn.Module, batch: Batch, *, temperature: float = 1.0, hidden: bool = False
) -> tuple[Tensor, Tensor, Tensor | None]:
    """(logps [N, R], entropy [N, R], last hidden states [N, R, D] or None) of each
    completion column under ``model`` (logits divided by ``temperature``)."""
    width, start = batch.response_mask.shape[1], batch.prompt_width
    out = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
        logits_to_keep=width + 1,
        use_cache=False,
        output_hidden_states=hidden,
    )
    logps, entropy = gathered_logps(
        out.logits[:, :-1] / temperature, batch.labels, batch.response_mask
    )
    states = out.hidden_states[-1][:, start - 1 : start + width - 1] if hidden else None
    return logps, entropy, states
