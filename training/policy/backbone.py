"""The language models DPO trains: the built-in tiny one and any local Hugging Face causal LM.

Both are ``transformers`` models behind one interface (``save_pretrained`` /
``AutoModelForCausalLM.from_pretrained``), so everything downstream has one code path and
other trainers can be run on exactly the same model:

- ``build_tokenizer``: a byte-level BPE (``tokenizers``) trained on the pairs' own text,
  wrapped as ``PreTrainedTokenizerFast`` with a pad token and an end-of-response token;
- ``build_tiny``: a small ``LlamaForCausalLM`` (RoPE, tied embeddings, no dropout, so
  train and eval mode compute the same log-probs);
- ``load_backbone``: a local folder's model and tokenizer (the end token is the
  tokenizer's eos token; pad falls back to it);
- ``freeze`` and ``with_lora`` (a peft adapter on a copy of the backbone).
No Django here.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from .config import PolicyConfig

PAD = "<pad>"
END = "<end>"  # closes every response; generation stops on it


def build_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE with ``vocab_size`` tokens (the 256 bytes and PAD / END included),
    so that any text, seen or not, can be encoded."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, END],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token=PAD, eos_token=END)


def build_tiny(config: PolicyConfig, tokenizer: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    torch.manual_seed(config.seed)
    llama = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.d_model,
        intermediate_size=config.d_ff,
        num_hidden_layers=config.n_layers,
        num_attention_heads=config.n_heads,
        num_key_value_heads=config.n_heads,
        max_position_embeddings=config.max_prompt_tokens + config.max_response_tokens + 1,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    return LlamaForCausalLM(llama)


def load_backbone(path: str | Path) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    path = Path(path)
    if not (path / "config.json").exists():
        raise ValueError(f"backbone {str(path)!r} is neither 'tiny' nor a folder with a model")
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if tokenizer.eos_token_id is None:
        raise ValueError(f"the tokenizer of {path} has no eos token to end responses with")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def end_token_id(tokenizer) -> int:
    return int(tokenizer.eos_token_id)


def freeze(model: nn.Module) -> nn.Module:
    """Eval mode and no gradients: a reference that nothing can change."""
    model.eval()
    model.requires_grad_(False)
    return model


def peft_available() -> bool:
    try:
        import peft  # noqa: F401
    except ImportError:
        return False
    return True


def with_lora(model: PreTrainedModel, config: PolicyConfig) -> nn.Module:
    """A trainable LoRA adapter on every linear layer of a copy of ``model``."""
    if not peft_available():
        raise ValueError("lora=True needs the peft package, which is not installed")
    from peft import LoraConfig, get_peft_model

    adapter = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=0.0,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(copy.deepcopy(model), adapter)


def trainable(model: nn.Module) -> nn.Module:
    model.train()
    if not hasattr(model, "peft_config"):
        model.requires_grad_(True)
    return model
