"""``Policy``: a trained policy with its frozen reference and tokenizer.

It scores responses (``logps``: summed log-probabilities of each response and its end
token, given the prompt) and samples them (``generate``). Sampling runs its own loop over a
KV cache with a private ``torch.Generator``, so a seed fixes the text without touching the
global random state, and the tiny and Hugging Face backbones sample the same way.
No Django here.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .config import PolicyConfig
from .sequences import Encoder, batch_logps, collate, pair_batch, pair_logps

SCORE_BATCH = 32


class Policy:
    def __init__(
        self,
        *,
        model: nn.Module,
        reference: nn.Module,
        tokenizer,
        config: PolicyConfig,
        device: str,
        reference_path: str | None = None,
    ) -> None:
        self.model = model
        self.reference = reference
        self.tokenizer = tokenizer
        self.config = config
        self.device = device
        # The backbone folder when the reference is that backbone untouched (then a saved
        # policy records the path instead of a copy); None when the reference was trained.
        self.reference_path = reference_path
        self.encoder = Encoder(
            tokenizer=tokenizer,
            end_id=int(tokenizer.eos_token_id),
            max_prompt_tokens=config.max_prompt_tokens,
            max_response_tokens=config.max_response_tokens,
        )

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def network(self, reference: bool) -> nn.Module:
        return self.reference if reference else self.model

    @torch.no_grad()
    def logps_ids(
        self, prompts: Sequence[list[int]], responses: Sequence[list[int]], *, reference: bool
    ) -> Tensor:
        model = self.network(reference)
        was_training = model.training
        model.eval()
        out = []
        for start in range(0, len(prompts), SCORE_BATCH):
            batch = collate(
                prompts[start : start + SCORE_BATCH],
                responses[start : start + SCORE_BATCH],
                int(self.tokenizer.pad_token_id),
            ).to(self.device)
            out.append(batch_logps(model, batch).float().cpu())
        model.train(was_training)
        return torch.cat(out) if out else torch.zeros(0)

    @torch.no_grad()
    def pair_logps_ids(
        self,
        prompts: Sequence[list[int]],
        chosen: Sequence[list[int]],
        rejected: Sequence[list[int]],
        *,
        reference: bool,
    ) -> tuple[Tensor, Tensor]:
        """([N], [N]): ``logps_ids`` of both responses of N pairs, each prompt run once."""
        model = self.network(reference)
        was_training = model.training
        model.eval()
        out = []
        for start in range(0, len(prompts), SCORE_BATCH):
            rows = slice(start, start + SCORE_BATCH)
            batch = pair_batch(
                prompts[rows], chosen[rows], rejected[rows], int(self.tokenizer.pad_token_id)
            ).to(self.device)
            out.append(pair_logps(model, batch).float().cpu().view(2, -1))
        model.train(was_training)
        both = torch.cat(out, dim=1) if out else torch.zeros(2, 0)
        return both[0], both[1]

    def logps(
        self, prompts: list[str], responses: list[str], *, reference: bool = False
    ) -> Tensor:
        """[N] summed log-probs of each response (end token included) after its prompt."""
        return self.logps_ids(
            [self.encoder.prompt(p) for p in prompts],
            [self.encoder.response(r) for r in responses],
            reference=reference,
        )

    @torch.no_grad()
    def sample_ids(
        self,
        prompt_ids: list[int],
        *,
        max_new_tokens: int,
        temperature: float,
        top_p: float,
        seed: int,
        reference: bool,
    ) -> list[int]:
        """New token ids, the end token included when it was sampled."""
        model = self.network(reference)
        was_training = model.training
        model.eval()
        generator = torch.Generator(device=self.device).manual_seed(seed)
        ids = torch.tensor([prompt_ids], device=self.device)
        positions = torch.arange(len(prompt_ids), device=self.device).unsqueeze(0)
        past, new = None, []
        for _ in range(max_new_tokens):
            out = model(input_ids=ids, cache=past, position_ids=positions, use_cache=True)
            past = out.cache
            logits = out.logits[0, -1].float()
            if temperature == 0:
                token = int(logits.argmax())
            else:
                probs = nucleus(torch.softmax(logits / temperature, -1), top_p)
                token = int(torch.multinomial(probs, 1, generator=generator))
            new.append(token)
            if token == self.encoder.end_id:
                break
            ids = torch.tensor([[token]], device=self.device)
            positions = positions[:, -1:] + 1
        model.train(was_training)
        return new

    def generate(
        self,
        prompt: str,
        *,
        max_new_tokens: int = 64,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int | None = None,
        reference: bool = False,
    ) -> str:
        """The sampled response (temperature 0: greedy), without the prompt or end token.
        The same seed and arguments give the same text; seed None draws a fresh seed."""
        if temperature < 0 or not 0 < top_p <= 1:
            raise ValueError("temperature must be >= 0 and top_p in (0, 1]")
        new = self.sample_ids(
            self.encoder.prompt(prompt),
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=secrets.randbits(63) if seed is None else seed,
            reference=reference,
        )
        if new and new[-1] == self.encoder.end_id:
            new = new[:-1]
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        return text[1:] if text.startswith(" ") else text

    def generate_many(self, prompt: str, n: int, **options) -> list[str]:
        """``n`` samples with seeds seed, seed + 1, … (seed None counts from 0)."""
        seed = options.pop("seed", None) or 0
        return [self.generate(prompt, seed=seed + i, **options) for i in range(n)]


def nucleus(probs: Tensor, top_p: float) -> Tensor:
    """Top-p filtering (Holtzman et al. 2020): keep the smallest set of most likely tokens
    whose mass reaches ``top_p`` (the most likely token always stays)."""
    if top_p >= 1:
        return probs
    sorted_probs, order = probs.sort(descending=True)
    drop = sorted_probs.cumsum(-1) - sorted_probs >= top_p
    sorted_probs[drop] = 0
    return torch.zeros_like(probs).scatter(-1, order, sorted_probs)
