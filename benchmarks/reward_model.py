"""Throughput of the reward-model code on this machine; prints ONE JSON line.

    python benchmarks/reward_model.py [--quick] [--data PATH]

Fields:
  embed_texts_per_s      TextEncoder.embed (MiniLM, the reward model's pooled layers,
                         length bucketing + dynamic padding) on real hh-rlhf responses
  plain_texts_per_s      reference in the same process: a plain transformers loop over the
                         same texts in their given order (dynamic padding, no bucketing)
  ratio                  embed_texts_per_s / plain_texts_per_s (what bucketing buys)
  score_texts_per_s      RewardScorer.rewards (embedding + head), no cache
  head_retrain_s         train(mode="head") on N_pairs synthetic pairs whose embeddings
                         are already in the EmbeddingCache (cache read + head training)
  head_retrain_accuracy  train accuracy of that run (the synthetic data has a signal)
  finetune_pairs_per_s   fine-tuning phase of train(mode="finetune"), pairs per second
  load_avg_1m            the machine's load when the benchmark ended (shared 2-core box)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.reward_data import DEFAULT_DATA, hh_comparisons  # noqa: E402
from training.reward import Comparison, RewardScorer, TrainConfig, train  # noqa: E402
from training.reward.embedding_cache import EmbeddingCache, text_key  # noqa: E402
from training.reward.encoders import mean_pool  # noqa: E402
from training.reward.model import (  # noqa: E402
    HeadEnsemble,
    build_encoder,
    combine_features,
    feature_dim,
)


def plain_loop(encoder, texts: list[str], *, batch_size: int) -> float:
    """Reference: batches in the given order, padding to each batch's longest text."""
    started = time.perf_counter()
    with torch.inference_mode():
        for s in range(0, len(texts), batch_size):
            batch = encoder.tokenizer(
                texts[s : s + batch_size],
                padding=True,
                truncation=True,
                max_length=encoder.max_length,
                return_tensors="pt",
            )
            states = encoder.model(**batch, output_hidden_states=True).hidden_states
            _ = torch.cat(
                [mean_pool(states[i], batch["attention_mask"]) for i in encoder.layers], -1
            )
    return len(texts) / (time.perf_counter() - started)


def head_retrain(
    encoder_dim: int, n_layers: int, *, n_pairs: int, config: TrainConfig, seed: int = 0
):
    """Synthetic cached pairs: chosen responses lean along one hidden direction."""
    g = torch.Generator().manual_seed(seed)
    direction = torch.randn(encoder_dim, generator=g)
    direction /= direction.norm()
    chosen = torch.randn(n_pairs, encoder_dim, generator=g) + 0.15 * direction  # [N, D]
    rejected = torch.randn(n_pairs, encoder_dim, generator=g) - 0.15 * direction  # [N, D]
    comparisons = [
        Comparison(
            item_id=i,
            prompt=f"p{i}",
            responses=[f"response a {i}", f"response b {i}"],
            ranking=[[0], [1]],
        )
        for i in range(n_pairs)
    ]

    class CachedOnly:
        """Stands in for the encoder: everything must come from the cache."""

        identifier = f"synthetic-{encoder_dim}"
        dim = encoder_dim
        layers = tuple(range(n_layers))

        def embed(self, texts, *, batch_size=64):
            raise RuntimeError("benchmark texts must all be cached")

        @property
        def device(self):
            return torch.device("cpu")

    with tempfile.TemporaryDirectory(prefix="rankwise-bench-") as tmp:
        cache = EmbeddingCache(tmp)
        texts = [t for c in comparisons for t in c.responses]
        emb = torch.stack([chosen, rejected], 1).view(-1, encoder_dim)  # [2N, D]
        cache.put(CachedOnly.identifier, [text_key(t) for t in texts], emb)
        del emb
        started = time.perf_counter()
        result = train(
            comparisons,
            config=config,
            cache=EmbeddingCache(tmp),
            encoder=CachedOnly(),
            train_metrics=False,
        )
        seconds = time.perf_counter() - started
        # accuracy on a fresh sample of the same distribution, from the trained head
        head = result.scorer.head
        n = 2000
        c2 = torch.randn(n, encoder_dim, generator=g) + 0.15 * direction
        r2 = torch.randn(n, encoder_dim, generator=g) - 0.15 * direction
        texts2 = [f"response a {i}" for i in range(n)], [f"response b {i}" for i in range(n)]
        with torch.no_grad():
            fc = combine_features(
                config=config, response_emb=c2, texts=texts2[0], prompt_emb=None, n_layers=n_layers
            )
            fr = combine_features(
                config=config, response_emb=r2, texts=texts2[1], prompt_emb=None, n_layers=n_layers
            )
            acc = float((head(fc) > head(fr)).float().mean())
    return seconds, acc


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description="reward-model throughput")
    ap.add_argument(
        "--quick", action="store_true", help="small sizes (well under a minute of work)"
    )
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    args = ap.parse_args(argv)
    n_texts = 96 if args.quick else 512
    n_pairs = 10_000 if args.quick else 100_000
    n_ft = 16 if args.quick else 64

    config = TrainConfig(eval_fraction=0.0, device="cpu")
    encoder = build_encoder(config)
    pairs = hh_comparisons(args.data)
    texts = [t.strip() for c in pairs for t in c.responses][:n_texts]

    encoder.embed(texts[:16])  # warm-up
    t0 = time.perf_counter()
    encoder.embed(texts, batch_size=config.embed_batch_size)
    embed_tps = len(texts) / (time.perf_counter() - t0)
    plain_tps = plain_loop(encoder, texts, batch_size=config.embed_batch_size)

    scorer_texts = texts[: max(32, n_texts // 2)]
    scorer = RewardScorer(encoder=encoder, head=train_head_stub(config, encoder), config=config)
    t0 = time.perf_counter()
    scorer.rewards(["Human: hi\n\nAssistant:"] * len(scorer_texts), scorer_texts)
    score_tps = len(scorer_texts) / (time.perf_counter() - t0)

    head_s, head_acc = head_retrain(
        encoder.dim, len(encoder.layers), n_pairs=n_pairs, config=config
    )

    ft_comparisons = pairs[:n_ft]
    ft_config = TrainConfig(mode="finetune", ft_epochs=1, eval_fraction=0.0, device="cpu")
    marks: list[tuple[float, float]] = []
    t0 = time.perf_counter()
    train(
        ft_comparisons,
        config=ft_config,
        encoder=encoder,
        train_metrics=False,
        progress=lambda f, loss: marks.append((f, time.perf_counter() - t0)),
    )
    head_phase_end = max(s for f, s in marks if f <= 0.1 + 1e-9)
    ft_seconds = marks[-1][1] - head_phase_end
    out = {
        "benchmark": "reward_model",
        "quick": args.quick,
        "torch_threads": torch.get_num_threads(),
        "embed_texts_per_s": round(embed_tps, 1),
        "plain_texts_per_s": round(plain_tps, 1),
        "ratio": round(embed_tps / plain_tps, 3),
        "ratio_of": "embed_texts_per_s / plain_texts_per_s (bucketed TextEncoder.embed vs plain in-order transformers loop, same texts, same process)",
        "score_texts_per_s": round(score_tps, 1),
        "n_texts": len(texts),
        "head_retrain_s": round(head_s, 2),
        "head_retrain_pairs": n_pairs,
        "head_retrain_accuracy": round(head_acc, 4),
        "finetune_pairs_per_s": round(n_ft * ft_config.ft_epochs / ft_seconds, 2),
        "finetune_pairs": n_ft,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(out), flush=True)
    return out


def train_head_stub(config: TrainConfig, encoder):
    """An untrained head of the right size: scoring speed does not depend on its weights."""
    return HeadEnsemble(in_dim=feature_dim(config, encoder.dim, len(encoder.layers)))


if __name__ == "__main__":
    main()
