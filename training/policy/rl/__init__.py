"""Reinforcement learning on a policy against a reward model, leashed to its reference by a
KL penalty: RLOO (the default) and PPO, in plain torch. No Django here. Read in this order:

- :mod:`.config` — ``RLConfig`` (strict keys), ``RL_PARAMETERS``;
- :mod:`.kl` — per-token KL estimators k1 and k3, masked sums / means, ``whiten``, the
  fixed and adaptive KL coefficient (Ziegler et al. 2019);
- :mod:`.rollout` — batched sampling of G completions per prompt, completion masks,
  per-token log-probs and entropies;
- :mod:`.updates` — epochs over minibatches of a rollout, one AdamW step each;
- :mod:`.rloo` — leave-one-out advantages and the clipped sequence-ratio loss;
- :mod:`.ppo` — the value head, per-token rewards, GAE, clipped policy and value losses;
- :mod:`.trainer` — ``train_rl``: rollouts, scores, KL, updates, checkpoint evaluations,
  the best checkpoint by held-out score, early stopping.

Stable API::

    train_rl(prompts, reward_fn, *, config=RLConfig(), init: Policy, heldout_reward_fn=None,
             eval_prompts=(), progress=None) -> RLResult
        reward_fn(prompts: list[str], completions: list[str]) -> list[float]
        RLResult(policy, seconds, history={"train": [{"step", **metrics}],
                 "checkpoints": [{"step", "kl", "proxy", "heldout"}]},
                 train_metrics (the last step's), best_step, stopped_early)
    progress(fraction, metrics); an exception raised inside it stops training.

Metrics use TRL 1.16's names. RLOO: ``kl`` (mean per-token KL), ``reward``, ``reward_std``,
``frac_reward_zero_std``, ``entropy``, ``clip_ratio/low_mean``, ``clip_ratio/high_mean``,
``clip_ratio/region_mean``, ``loss``. PPO: ``objective/kl`` (mean summed KL),
``objective/entropy``, ``objective/non_score_reward``, ``objective/rlhf_reward``,
``objective/scores``, ``policy/approxkl_avg``, ``policy/clipfrac_avg``,
``loss/policy_avg``, ``loss/value_avg``, ``val/clipfrac_avg``, ``policy/entropy_avg``,
``val/ratio``, ``val/num_eos_tokens``. Both: ``eps`` (completions per second), ``beta``,
``kl_sequence``, ``completions/mean_length``, ``completions/clipped_ratio``.
"""

from .config import ALGORITHMS, KL_ESTIMATORS, RL_PARAMETERS, RLConfig
from .kl import (
    AdaptiveKLController,
    FixedKLController,
    kl_k1,
    kl_k3,
    kl_per_token,
    masked_mean,
    masked_sum,
    masked_var,
    whiten,
)
from .ppo import ValueHead, gae, token_rewards
from .rloo import clipped_sequence_loss, rloo_advantages
from .rollout import gathered_logps, token_logps
from .trainer import RLResult, train_rl

__all__ = [
    "ALGORITHMS",
    "KL_ESTIMATORS",
    "RL_PARAMETERS",
    "AdaptiveKLController",
    "FixedKLController",
    "RLConfig",
    "RLResult",
    "ValueHead",
    "clipped_sequence_loss",
    "gae",
    "gathered_logps",
    "kl_k1",
    "kl_k3",
    "kl_per_token",
    "masked_mean",
    "masked_sum",
    "masked_var",
    "rloo_advantages",
    "token_logps",
    "token_rewards",
    "train_rl",
    "whiten",
]
