"""Reads for training: the comparisons a reward model learns from, the registry's state.

What a reward model learns from
-------------------------------
Every annotation of the project whose source is ``human`` or ``import`` (imported
preference datasets seed a model before anyone labelled; AI labels are left out), except
annotations of **gold items**. Gold items are quality checks: their answers must not leak
to annotators through a model's scores (the score and feedback endpoints are open to
annotators), and annotators' answers on them measure the annotators, not the items.

Items labelled more than once become one comparison by majority over pair votes (see
:func:`majority_ranking`); its ``weight`` is the agreement, so contested items count less,
and its ``agreement`` is the human ceiling on that item (how often one annotator's pair
vote matches the consensus). An item whose consensus ties everything carries no preference
and is skipped.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import QuerySet

from annotation.models import Annotation, Item, Project, Response

from .models import RewardModelVersion, TrainingRun

TRAINING_SOURCES = (Annotation.Source.HUMAN, Annotation.Source.IMPORT)
ITEM_CHUNK = 1000

ROLE_NAMES = {"user": "User", "assistant": "Assistant", "system": "System"}


def prompt_text(*, prompt: str | None, messages: Sequence[dict] | None) -> str:
    """The text a reward model reads as the prompt of an item.

    A plain prompt is used as it is. A conversation is flattened to one paragraph per turn,
    ``"User: ...\\n\\nAssistant: ...\\n\\nUser: ..."`` (``System:`` for system turns), the
    same text whether it comes from an item, the score API or the feedback endpoint, so
    that a model scores what it was trained on.
    """
    if messages:
        turns = []
        for message in messages:
            role = str(message.get("role", "")).strip().lower()
            name = ROLE_NAMES.get(role, role.capitalize() or "User")
            turns.append(f"{name}: {str(message.get('content', '')).strip()}")
        return "\n\n".join(turns)
    return prompt or ""


# --- majority consensus (plain Python, no Django) -----------------------------------------


def pair_votes(tiers: Sequence[Sequence[int]], k: int) -> dict[tuple[int, int], int]:
    """One ranking → ``{(i, j): +1 | 0 | -1}`` for positions i < j (+1: i is preferred)."""
    tier_of = {pos: t for t, tier in enumerate(tiers) for pos in tier}
    votes = {}
    for i in range(k):
        for j in range(i + 1, k):
            a, b = tier_of[i], tier_of[j]
            votes[(i, j)] = 1 if a < b else -1 if a > b else 0
    return votes


def majority_ranking(rankings: Sequence[Sequence[Sequence[int]]], k: int
                     ) -> tuple[list[list[int]], float]:
    """N rankings of the positions ``0..k-1`` (tiers, best first) → one tier ranking and the
    agreement.

    Each pair (i, j) is decided by the sign of the summed votes (+1 / 0 / -1); a draw is a
    tie. Responses are then ordered by Copeland score (wins + ½ ties over the pairs), and
    equal scores share a tier: with a transitive majority this is exactly the majority
    order, and a cycle becomes a tie instead of an arbitrary order.

    The agreement is the mean over pairs of the share of votes equal to the pair's
    outcome (1.0 for a single ranking): the chance that one annotator's vote on a pair
    matches the consensus, i.e. the human ceiling a model could reach on this item.
    """
    if not rankings:
        raise ValueError("majority_ranking needs at least one ranking")
    all_votes = [pair_votes(r, k) for r in rankings]
    score = [0.0] * k
    agreements = []
    for i in range(k):
        for j in range(i + 1, k):
            votes = [v[(i, j)] for v in all_votes]
            total = sum(votes)
            outcome = (total > 0) - (total < 0)
            agreements.append(sum(1 for v in votes if v == outcome) / len(votes))
            if outcome > 0:
                score[i] += 1
            elif outcome < 0:
                score[j] += 1
            else:
                score[i] += 0.5
                score[j] += 0.5
    tiers: list[list[int]] = []
    for value in sorted(set(score), reverse=True):
        tiers.append([pos for pos in range(k) if score[pos] == value])
    agreement = sum(agreements) / len(agreements) if agreements else 1.0
    return tiers, agreement


# --- comparisons --------------------------------------------------------------------------


@dataclass
class ItemComparison:
    """One item's consensus, ready for the trainer (``to_trainer`` gives its Comparison)."""

    item_id: int
    prompt: str
    responses: list[str]
    response_ids: list[int]
    ranking: list[list[int]]  # tiers of positions in ``responses``, best first
    weight: float
    agreement: float
    n_annotations: int
    strength: int | None = None

    def to_trainer(self):
        from training.reward_model import Comparison

        return Comparison(item_id=self.item_id, prompt=self.prompt, responses=self.responses,
                          ranking=self.ranking, weight=self.weight, strength=self.strength)


@dataclass
class TrainingData:
    comparisons: list[ItemComparison]
    fingerprint: dict = field(default_factory=dict)
    data_until: datetime | None = None

    def human_ceiling(self) -> float | None:
        """Mean per-item agreement over items labelled more than once (None: none were)."""
        multi = [c.agreement for c in self.comparisons if c.n_annotations > 1]
        return sum(multi) / len(multi) if multi else None


def training_annotations(*, project: Project) -> QuerySet[Annotation]:
    return Annotation.objects.filter(
        project=project, source__in=TRAINING_SOURCES, item__is_gold=False
    )


def _tiers_of_positions(ranking, position_of: dict[int, int]) -> list[list[int]] | None:
    """Tiers of response ids → tiers of positions; None when the ranking does not name every
    response of the item exactly once."""
    try:
        tiers = [[position_of[int(rid)] for rid in tier] for tier in ranking]
    except (KeyError, TypeError, ValueError):
        return None
    flat = [p for tier in tiers for p in tier]
    if sorted(flat) != list(range(len(position_of))):
        return None
    return [tier for tier in tiers if tier]


def _consensus(*, item_rows: dict[int, tuple[str, list | None]],
               responses: dict[int, list[tuple[int, str]]],
               labels: dict[int, list[tuple[list, int | None]]]) -> Iterator[ItemComparison]:
    for item_id, item_labels in labels.items():
        shown = responses.get(item_id, [])
        if len(shown) < 2 or item_id not in item_rows:
            continue
        position_of = {rid: pos for pos, (rid, _) in enumerate(shown)}
        rankings, strengths = [], []
        for ranking, strength in item_labels:
            tiers = _tiers_of_positions(ranking, position_of)
            if tiers is not None:
                rankings.append(tiers)
                if strength is not None:
                    strengths.append(strength)
        if not rankings:
            continue
        tiers, agreement = majority_ranking(rankings, len(shown))
        if len(tiers) < 2:
            continue
        prompt, messages = item_rows[item_id]
        yield ItemComparison(
            item_id=item_id,
            prompt=prompt_text(prompt=prompt, messages=messages),
            responses=[text for _, text in shown],
            response_ids=[rid for rid, _ in shown],
            ranking=tiers,
            weight=agreement,
            agreement=agreement,
            n_annotations=len(rankings),
            strength=round(statistics.median(strengths)) if strengths else None,
        )


def _flush(labels: dict[int, list]) -> Iterator[ItemComparison]:
    ids = list(labels)
    item_rows = {pk: (prompt, messages) for pk, prompt, messages
                 in Item.objects.filter(pk__in=ids).values_list("pk", "prompt", "messages")}
    responses: dict[int, list[tuple[int, str]]] = {}
    for item_id, rid, text in (Response.objects.filter(item_id__in=ids)
                               .order_by("item_id", "position").values_list("item_id", "pk", "text")):
        responses.setdefault(item_id, []).append((rid, text))
    yield from _consensus(item_rows=item_rows, responses=responses, labels=labels)


def comparisons_for(*, project: Project, item_ids: Iterable[int] | None = None) -> TrainingData:
    """The project's comparisons (one per labelled item, see the module doc) with a
    fingerprint of the annotations used: sha256 over their sorted ``id@created_at`` plus
    counts, so two runs on the same data have the same fingerprint."""
    rows = training_annotations(project=project)
    if item_ids is not None:
        rows = rows.filter(item_id__in=list(item_ids))
    rows = rows.order_by("item_id", "id").values_list(
        "id", "item_id", "ranking", "strength", "created_at"
    )
    comparisons: list[ItemComparison] = []
    used: list[tuple[int, datetime]] = []
    labels: dict[int, list[tuple[list, int | None]]] = {}
    for pk, item_id, ranking, strength, created_at in rows.iterator(chunk_size=2000):
        if item_id not in labels and len(labels) >= ITEM_CHUNK:
            comparisons.extend(_flush(labels))
            labels = {}
        labels.setdefault(item_id, []).append((ranking, strength))
        used.append((pk, created_at))
    if labels:
        comparisons.extend(_flush(labels))
    used.sort()
    digest = hashlib.sha256()
    for pk, created_at in used:
        digest.update(f"{pk}@{created_at.isoformat()}\n".encode())
    fingerprint = {
        "sha256": digest.hexdigest(),
        "n_annotations": len(used),
        "n_comparisons": len(comparisons),
        "n_items": len({c.item_id for c in comparisons}),
    }
    return TrainingData(comparisons=comparisons, fingerprint=fingerprint,
                        data_until=max((c for _, c in used), default=None))


def new_comparisons_since(*, project: Project, since: datetime | None) -> int:
    """How many training annotations arrived after ``since`` (all of them for None). One
    COUNT on the (project, created_at) index; gold-item labels are counted too, which only
    makes a run start slightly early."""
    rows = Annotation.objects.filter(project=project, source__in=TRAINING_SOURCES)
    if since is not None:
        rows = rows.filter(created_at__gt=since)
    return rows.count()


# --- registry -----------------------------------------------------------------------------


def active_reward_model(*, project_id: int) -> RewardModelVersion | None:
    return RewardModelVersion.objects.filter(project_id=project_id, is_active=True).first()


def reward_models_of(*, project: Project) -> QuerySet[RewardModelVersion]:
    return RewardModelVersion.objects.filter(project=project).select_related("training_run")


def training_runs_of(*, project: Project) -> QuerySet[TrainingRun]:
    return TrainingRun.objects.filter(project=project, kind=TrainingRun.Kind.REWARD_MODEL)


def latest_run(*, project: Project) -> TrainingRun | None:
    return training_runs_of(project=project).order_by("-created_at", "-id").first()


def unfinished_run(*, project: Project) -> TrainingRun | None:
    return (training_runs_of(project=project)
            .filter(status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING])
            .order_by("-id").first())
