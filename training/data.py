"""What a reward model learns from: the project's labels as one comparison per item.

Every annotation of the project whose source is ``human`` or ``import`` (imported
preference datasets seed a model before anyone labelled), and ``ai`` too when the project's
``judges.in_training`` is on (:func:`training_sources`; off by default), except annotations
of **gold items**. Gold items are quality checks: their answers must not leak
to annotators through a model's scores (the score and feedback endpoints are open to
annotators), and annotators' answers on them measure the annotators, not the items.

Items labelled more than once become one comparison by majority over pair votes (see
:func:`annotation.quality.consensus.majority_ranking`); its ``weight`` is the agreement of
all its labels, so contested items count less. Its ``agreement`` is the human ceiling on
that item: how often one human annotator's pair vote matches the humans' consensus, over
human labels only (``n_annotations`` of them) and only where there are two or more.
Imported and AI labels train the model but are nobody's vote on how far people agree.
An item whose consensus ties everything carries no preference and is skipped.

The ranking then follows the project's consensus method (``quality.consensus``: majority,
Bradley–Terry or Dawid–Skene, see :mod:`annotation.quality.compute`), and a reviewer's
accept / rank decision replaces it; labels a reviewer excluded are left out entirely.

The fingerprint's ``n_annotations`` (what activation compares when it says a model "learned
from fewer labels", and what annotators see as "trained on") counts people's labels, human
and imported, never AI ones: a judge can label thousands of items in minutes, and a model
must not win that comparison by it. ``n_ai_labels`` counts the AI labels read, and the
``sha256`` covers every label read, AI ones included. The scheduler's triggers
(:func:`new_comparisons_since`, :func:`labelled_items`) count what a run would read, AI labels
included when they train.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import QuerySet

from annotation.models import Annotation, Item, Project, Response
from annotation.project_settings import project_settings
from annotation.quality.compute import compute, decisive_reviews
from annotation.quality.consensus import majority_ranking, tiers_of_positions

from . import loader
from .prompts import prompt_text

TRAINING_SOURCES = (Annotation.Source.HUMAN, Annotation.Source.IMPORT)
WITH_AI = (*TRAINING_SOURCES, Annotation.Source.AI)
ITEM_CHUNK = 1000


@dataclass
class ItemComparison:
    """One item's consensus, ready for the trainer (``to_trainer`` gives its Comparison)."""

    item_id: int
    prompt: str
    responses: list[str]
    response_ids: list[int]
    ranking: list[list[int]]  # tiers of positions in ``responses``, best first
    weight: float
    agreement: float | None  # the human ceiling; None below two human labels
    n_annotations: int  # human labels
    n_labels: int = 0  # every label the consensus was made of, imported ones too
    strength: int | None = None

    def to_trainer(self):
        return loader.reward().Comparison(
            item_id=self.item_id, prompt=self.prompt, responses=self.responses,
            ranking=self.ranking, weight=self.weight, strength=self.strength)


@dataclass
class TrainingData:
    comparisons: list[ItemComparison]
    fingerprint: dict = field(default_factory=dict)
    data_until: datetime | None = None

    def human_ceiling(self) -> float | None:
        """Mean per-item agreement over items labelled by two or more humans (None: none
        were)."""
        multi = [c.agreement for c in self.comparisons if c.agreement is not None]
        return sum(multi) / len(multi) if multi else None


def training_sources(project: Project) -> tuple[str, ...]:
    """The label sources a model learns from: human and imported, AI too with
    ``judges.in_training``."""
    return WITH_AI if project_settings(project).judges.in_training else TRAINING_SOURCES


def training_annotations(*, project: Project) -> QuerySet[Annotation]:
    """Labels a model learns from (:func:`training_sources`), not on gold items, not excluded
    by a reviewer."""
    return Annotation.objects.filter(
        project=project, source__in=training_sources(project), item__is_gold=False,
        excluded=False, superseded=False,
    )


def _with_consensus(*, project: Project, comparisons: list[ItemComparison]) -> tuple[list, dict]:
    """Each item's ranking by the project's consensus method, reviewers' decisions first
    (``annotation.quality.compute``); majority alone is what ``_consensus`` already did."""
    method = project_settings(project).quality.consensus
    ids = [c.item_id for c in comparisons]
    reviewed = decisive_reviews(project=project, item_ids=ids)
    used = {"consensus": method, "reviewed_items": len(reviewed)}
    if method == "majority" and not reviewed:
        return comparisons, used
    results = compute(project=project, method=method, item_ids=ids,
                      sources=training_sources(project))
    kept = []
    for comparison in comparisons:
        result = results.get(comparison.item_id)
        if result is not None:
            position_of = {rid: p for p, rid in enumerate(comparison.response_ids)}
            tiers = tiers_of_positions(result.ranking, position_of)
            if tiers is not None:
                comparison.ranking = tiers
        if len(comparison.ranking) >= 2:
            kept.append(comparison)
    return kept, used


def _consensus(*, item_rows: dict[int, tuple[str, list | None]],
               responses: dict[int, list[tuple[int, str]]],
               labels: dict[int, list[tuple[list, int | None, str]]]) -> Iterator[ItemComparison]:
    for item_id, item_labels in labels.items():
        shown = responses.get(item_id, [])
        if len(shown) < 2 or item_id not in item_rows:
            continue
        position_of = {rid: pos for pos, (rid, _) in enumerate(shown)}
        rankings, strengths, human = [], [], []
        for ranking, strength, source in item_labels:
            tiers = tiers_of_positions(ranking, position_of)
            if tiers is not None:
                rankings.append(tiers)
                if source == Annotation.Source.HUMAN:
                    human.append(tiers)
                if strength is not None:
                    strengths.append(strength)
        if not rankings:
            continue
        tiers, weight = majority_ranking(rankings, len(shown))
        if len(tiers) < 2:
            continue
        agreement = majority_ranking(human, len(shown))[1] if len(human) > 1 else None
        prompt, messages = item_rows[item_id]
        yield ItemComparison(
            item_id=item_id,
            prompt=prompt_text(prompt=prompt, messages=messages),
            responses=[text for _, text in shown],
            response_ids=[rid for rid, _ in shown],
            ranking=tiers,
            weight=weight,
            agreement=agreement,
            n_annotations=len(human),
            n_labels=len(rankings),
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
        "id", "item_id", "ranking", "strength", "source", "created_at"
    )
    comparisons: list[ItemComparison] = []
    used: list[tuple[int, datetime]] = []
    n_ai = 0
    labels: dict[int, list[tuple[list, int | None, str]]] = {}
    for pk, item_id, ranking, strength, source, created_at in rows.iterator(chunk_size=2000):
        if item_id not in labels and len(labels) >= ITEM_CHUNK:
            comparisons.extend(_flush(labels))
            labels = {}
        labels.setdefault(item_id, []).append((ranking, strength, source))
        used.append((pk, created_at))
        n_ai += source == Annotation.Source.AI
    if labels:
        comparisons.extend(_flush(labels))
    comparisons, consensus = _with_consensus(project=project, comparisons=comparisons)
    used.sort()
    digest = hashlib.sha256()
    for pk, created_at in used:
        digest.update(f"{pk}@{created_at.isoformat()}\n".encode())
    fingerprint = {
        "sha256": digest.hexdigest(),
        "n_annotations": len(used) - n_ai,  # people's labels (module doc)
        "n_ai_labels": n_ai,
        "n_comparisons": len(comparisons),
        "n_items": len({c.item_id for c in comparisons}),
        **consensus,
    }
    return TrainingData(comparisons=comparisons, fingerprint=fingerprint,
                        data_until=max((c for _, c in used), default=None))


def labelled_items(*, project: Project) -> int:
    """How many non-gold items carry a training annotation: an upper bound on the
    comparisons a run would read (ties and excluded labels can only lower it)."""
    return (Annotation.objects.filter(project=project, source__in=training_sources(project),
                                      superseded=False, excluded=False, item__is_gold=False)
            .values("item_id").distinct().count())


def new_comparisons_since(*, project: Project, since: datetime | None) -> int:
    """How many training annotations arrived after ``since`` (all of them for None). One
    COUNT on the (project, created_at) index; gold-item labels are counted too, which only
    makes a run start slightly early."""
    rows = Annotation.objects.filter(project=project, source__in=training_sources(project),
                                     superseded=False)
    if since is not None:
        rows = rows.filter(created_at__gt=since)
    return rows.count()
