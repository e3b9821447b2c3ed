"""Encoding and batching: truncation keeps the end of a prompt and the start of a
response, and a row's log-probs do not depend on the padding its batch adds."""

from __future__ import annotations

import pytest
import torch

from training.policy.backbone import trainable
from training.policy.sequences import (
    PROMPT_SUFFIX,
    Encoder,
    batch_logps,
    collate,
    pair_batch,
    pair_logps,
    response_text,
)
from training.policy.trainer import encode


def test_prompt_keeps_its_end_and_response_its_start(trained):
    policy = trained.policy
    tokenizer = policy.tokenizer
    encoder = Encoder(tokenizer, policy.encoder.end_id, max_prompt_tokens=6, max_response_tokens=4)
    prompt = "User: tell me everything about the weather and my garden"
    whole = tokenizer(prompt + PROMPT_SUFFIX, add_special_tokens=False).input_ids
    assert encoder.prompt(prompt) == whole[-6:]
    response = "Sure, I would be glad to help with the weather today."
    whole = tokenizer(response_text(response), add_special_tokens=False).input_ids
    assert encoder.response(response) == whole[:4] + [policy.encoder.end_id]
    assert encoder.response("ok")[-1] == policy.encoder.end_id


def test_layout_puts_every_response_at_the_same_column():
    batch = collate([[5, 6], [7, 8, 9]], [[1, 2, 3], [4]], pad_id=0)
    assert batch.prompt_width == 3
    assert batch.input_ids.tolist() == [[0, 5, 6, 1, 2, 3], [7, 8, 9, 4, 0, 0]]
    assert batch.attention_mask.tolist() == [[0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]]
    assert batch.position_ids.tolist() == [[0, 0, 1, 2, 3, 4], [0, 1, 2, 3, 3, 3]]
    assert batch.response_mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch.lengths.tolist() == [3, 1]
    pairs = pair_batch([[5]], [[1, 2]], [[3]], pad_id=0)
    assert pairs.input_ids.tolist() == [[5, 1, 2], [5, 3, 0]]  # chosen rows, then rejected


def test_log_probs_do_not_depend_on_padding(trained):
    policy = trained.policy
    short = ("User: hi?", "Sure.")
    long = ("User: can you tell me about the weather and the museum and my bike please?",
            "Of course, here is a kind note on the weather and the museum for you today.")
    alone = policy.logps([short[0]], [short[1]])
    padded = policy.logps([short[0], long[0]], [short[1], long[1]])
    assert torch.allclose(alone, padded[:1], atol=1e-4)
    assert torch.isfinite(padded).all()


def test_log_probs_sum_over_response_tokens_only(trained):
    """Against a plain forward pass over the unpadded sequence."""
    policy = trained.policy
    prompt, response = "User: can you tell me about a song?", "Happy to explain a song."
    p, r = policy.encoder.prompt(prompt), policy.encoder.response(response)
    ids = torch.tensor([p + r])
    with torch.no_grad():
        log_probs = torch.log_softmax(policy.model(input_ids=ids).logits[0].float(), -1)
    expected = sum(float(log_probs[len(p) - 1 + t, r[t]]) for t in range(len(r)))
    assert float(policy.logps([prompt], [response])[0]) == pytest.approx(expected, abs=1e-4)


def test_pairs_share_their_prompt_pass_exactly(trained, held_out_pairs):
    """pair_logps (each prompt once, responses on its cache) == whole rows, value and
    gradient, with prompts and responses of different lengths."""
    import copy

    model = trainable(copy.deepcopy(trained.policy.model)).double()
    pairs = held_out_pairs[:5]
    pairs[0] = type(pairs[0])(0, "User: a longer prompt about " * 3, "Sure.", "No way, go away now.")
    data = encode(pairs, trained.policy.encoder)
    batch = pair_batch(data.prompts, data.chosen, data.rejected, pad_id=0)
    weights = torch.linspace(-1, 1, 10, dtype=torch.float64)
    gradients = []
    for logps in (batch_logps, pair_logps):
        model.zero_grad()
        values = logps(model, batch)
        (values * weights).sum().backward()
        gradients.append((values.detach(), [p.grad.clone() for p in model.parameters()]))
    (whole, whole_grads), (shared, shared_grads) = gradients
    assert torch.allclose(whole, shared, rtol=1e-6)
    for a, b in zip(whole_grads, shared_grads, strict=True):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6 * float(a.abs().max()))
