"""A local Hugging Face causal LM as the backbone: DPO only, the loaded model is the frozen
reference, a saved policy records the backbone's path; LoRA through peft when installed,
a clear refusal when not."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from transformers import AutoModelForCausalLM

from training.policy import PolicyConfig, evaluate, load, save, train

HF = {"max_prompt_tokens": 24, "max_response_tokens": 16, "dpo_epochs": 2, "dpo_lr": 3e-3,
      "batch_size": 16, "warmup_steps": 2, "device": "cpu"}


def test_hf_backbone_trains_dpo_on_a_frozen_copy(tiny_hf_dir, toy_pairs, held_out_pairs, tmp_path):
    config = PolicyConfig.from_dict(HF | {"backbone": str(tiny_hf_dir)})
    result = train(toy_pairs, config=config)
    policy = result.policy
    assert result.history["sft"] == [] and len(result.history["dpo"]) == 12
    original = AutoModelForCausalLM.from_pretrained(str(tiny_hf_dir)).state_dict()
    reference = policy.reference.state_dict()
    assert all(torch.equal(original[k], reference[k]) for k in original)
    assert not any(p.requires_grad for p in policy.reference.parameters())
    assert evaluate(policy, held_out_pairs, kl_prompts=2, kl_tokens=4)["rewards/accuracies"] > 0.8

    folder = save(result, tmp_path)
    assert not (folder / "reference").exists()  # the backbone folder is recorded instead
    loaded = load(folder, device="cpu")
    prompts, responses = [p.prompt for p in held_out_pairs[:4]], [p.chosen for p in held_out_pairs[:4]]
    for reference_side in (False, True):
        assert torch.equal(loaded.logps(prompts, responses, reference=reference_side),
                           policy.logps(prompts, responses, reference=reference_side))


def test_missing_backbone_folder_is_refused(tmp_path, toy_pairs):
    config = PolicyConfig.from_dict(HF | {"backbone": str(tmp_path / "nowhere")})
    with pytest.raises(ValueError, match="backbone"):
        train(toy_pairs[:4], config=config)


def test_lora_without_peft_is_refused_by_name(tiny_hf_dir, toy_pairs, monkeypatch):
    from training.policy import trainer

    monkeypatch.setattr(trainer, "peft_available", lambda: False)  # an install without it
    config = PolicyConfig.from_dict(HF | {"backbone": str(tiny_hf_dir), "lora": True})
    with pytest.raises(ValueError, match="lora"):
        train(toy_pairs[:4], config=config)


def test_lora_trains_an_adapter_only(tiny_hf_dir, toy_pairs, held_out_pairs, tmp_path):
    config = PolicyConfig.from_dict(
        HF | {"backbone": str(tiny_hf_dir), "lora": True, "lora_r": 4, "lora_alpha": 8,
              "dpo_lr": 1e-2}
    )
    result = train(toy_pairs, config=config)
    policy = result.policy
    reference = policy.reference.state_dict()
    adapters = 0
    for name, value in policy.model.named_parameters():
        if "lora_" in name:
            adapters += 1
            continue
        plain = name.replace("base_model.model.", "").replace(".base_layer", "")
        assert torch.equal(value, reference[plain]), name  # the backbone itself is untouched
    assert adapters > 0
    assert any(v.abs().sum() > 0 for n, v in policy.model.named_parameters() if "lora_B" in n)
    assert evaluate(policy, held_out_pairs, kl_prompts=0)["rewards/accuracies"] > 0.8
    loaded = load(save(result, tmp_path), device="cpu")
    prompts, responses = [p.prompt for p in held_out_pairs[:4]], [p.chosen for p in held_out_pairs[:4]]
    assert torch.allclose(loaded.logps(prompts, responses), policy.logps(prompts, responses))
    again = train(toy_pairs[:32], config=dataclasses.replace(config, dpo_epochs=1), init=policy)
    assert torch.allclose(again.policy.logps(prompts, responses, reference=True),
                          policy.logps(prompts, responses), atol=1e-4)
