"""Policy training with Direct Preference Optimization (DPO), in plain torch.

Transformers / tokenizers (and peft for LoRA) as libraries, no Django. One idea per file,
read in this order:

- :mod:`.data` — ``PreferencePair``, ``split_by_item``;
- :mod:`.config` — ``PolicyConfig`` (strict keys), ``PARAMETERS``;
- :mod:`.losses` — ``dpo_loss`` (sigmoid / cDPO, hinge, ipo, robust, as TRL 1.16),
  ``sequence_logps``;
- :mod:`.backbone` — the tiny Llama and its BPE tokenizer, local HF models, LoRA;
- :mod:`.sequences` — prompts and responses to padded batches, response log-probs;
- :mod:`.policy` — ``Policy``: ``logps``, ``generate``, ``generate_many``;
- :mod:`.trainer` — supervised fine-tuning of the reference, then DPO: ``train``;
- :mod:`.evaluation` — TRL's reward metrics and a sampled KL: ``evaluate``;
- :mod:`.checkpoint` — ``save`` / ``load`` of a policy folder.
- :mod:`.rl` — reinforcement learning against a reward model with a KL leash to the
  reference (RLOO, PPO): ``from training.policy.rl import RLConfig, train_rl`` (its own
  package map and API are in its docstring; nothing of it is exported here).

Stable API (used by the Django side through ``training.loader.policy()``)::

    train(pairs, *, config=PolicyConfig(), progress=None, init=None) -> PolicyResult
        PolicyResult(policy, seconds, history={"sft": [[step, loss]], "dpo": [...]},
                     train_metrics={"rewards/chosen", "rewards/rejected",
                                    "rewards/accuracies", "rewards/margins",
                                    "logps/chosen", "logps/rejected"})
    evaluate(policy, pairs, *, beta=None, kl_prompts=16, kl_tokens=32, seed=0) -> dict
        {"rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins",
         "logps/chosen", "logps/rejected", "loss", "kl", "n_pairs"}
    split_by_item(pairs, eval_fraction=0.1, seed=0) -> (train, eval)
    save(result_or_policy, directory) -> Path;  load(directory, *, device=None) -> Policy
    Policy.generate(prompt, *, max_new_tokens=64, temperature=1.0, top_p=1.0, seed=None,
                    reference=False) -> str;  Policy.generate_many(prompt, n, **same)
    Policy.logps(prompts, responses, *, reference=False) -> Tensor[N]
    dpo_loss(...) -> (losses, chosen_rewards, rejected_rewards);  sequence_logps(...)

``progress(fraction, loss)`` is called after every step, fraction in [0, 1] over SFT + DPO;
an exception raised inside it stops training.

Measured on hh-rlhf harmless-base test (``benchmarks/dpo_hh.py``): 2,000 pairs train, the
other 308 held out (fixed shuffle), held-out rewards/accuracies; tiny backbone (1.38 M
parameters, 4,096-token BPE), prompts 128 / responses 64 tokens, β 0.1, one torch thread
on the shared 2-core box:
  shorter response wins (same held-out pairs)                         0.526
  SFT on chosen only (3 epochs), 1 DPO epoch                          0.588  (7.1 min; KL 34,
                                                                       train acc 0.69, held-out
                                                                       loss 0.766 > ln 2)
  SFT on chosen + rejected (2 epochs), 1 DPO epoch (DEFAULT)          0.591  (5.8 min, KL 3.3,
                                                                       held-out loss 0.683)
  same, 3 DPO epochs                                                  0.594  (9.6 min, KL 10.8,
                                                                       train acc 0.97, held-out
                                                                       loss 0.746)
  A reference fine-tuned on the chosen responses only hands DPO a shortcut: sharpening
  what the reference memorised raises every training chosen response and no held-out one
  (train accuracy 0.69 against 0.59 held out, KL 34). Fitting the reference to both
  responses removes it at the same held-out accuracy; more DPO epochs then only overfit
  (0.594 is inside the ±0.028 standard error of 308 pairs, at 1.7x the time and 3x the KL).
  Two threads on the busy box were several times slower than one (oversubscription).
"""

from .checkpoint import load, save
from .config import LOSS_TYPES, PARAMETERS, PolicyConfig
from .data import PreferencePair, split_by_item
from .evaluation import evaluate
from .losses import dpo_loss, sequence_logps
from .policy import Policy
from .trainer import PolicyResult, train

__all__ = [
    "LOSS_TYPES",
    "PARAMETERS",
    "Policy",
    "PolicyConfig",
    "PolicyResult",
    "PreferencePair",
    "dpo_loss",
    "evaluate",
    "load",
    "save",
    "sequence_logps",
    "split_by_item",
    "train",
]
