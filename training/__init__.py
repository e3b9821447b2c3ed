"""Everything that learns from the project's rankings.

- :mod:`training.reward` — the reward model in plain torch (no Django): model, trainer,
  evaluation, cross-validation, files, preview; encoders and losses.
- :mod:`training.lr_schedules`, :mod:`training.prompts` — small framework-free pieces shared
  by every trainer.
- :mod:`training.loader` — the one place the Django side imports the torch side, lazily.
- :mod:`training.data` — the project's labels as one comparison per item.
- :mod:`training.registry` — versions of every model kind, staging → atomic publish,
  activate if not worse, activation.
- :mod:`training.runs` — a run's life: request, claim, execute, progress, failure, sweep.
- :mod:`training.scoring` — the active model's scores, "watch it learn", active learning.
- :mod:`training.schedule` — when beat starts a run by itself.
- :mod:`training.selectors` — reads of versions and runs; ``api``/``views`` (thin),
  ``celery_tasks`` (ids in, one service call), ``admin``.
"""
