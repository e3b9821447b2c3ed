"""Consensus of every labelled item of a project by one method, with reviewers' decisions
on top. Reads only; :mod:`annotation.quality.services` stores the results.

Methods (``quality.consensus`` in the project settings, or a ``consensus=`` parameter):

- ``majority``: the sign of the summed pair votes, ordered by Copeland score
  (:func:`annotation.quality.consensus.majority_ranking`); confidence = the share of pair
  votes equal to the outcome.
- ``bradley_terry``: Bradley–Terry strengths of the item's responses by MM iterations
  (:mod:`annotation.quality.bradley_terry`), a tie half a win each way.
- ``dawid_skene``: EM over every pair unit of the project with a confusion matrix per
  annotator (:mod:`annotation.quality.dawid_skene`), so a careful annotator outweighs a
  random clicker; confidence = the mean posterior of the chosen pair outcomes.

Inputs are the counted human and imported labels (:mod:`annotation.quality.labels`), and
AI labels too when the project's ``judges.in_consensus`` is on or a caller asks for
``sources`` (:func:`annotation.quality.labels.consensus_sources`); ``n_labels`` counts every
voter. An item's newest ``accept`` / ``rank`` / ``gold`` review replaces its consensus
(confidence 1.0, source ``review``). ``agreement`` is always the human ceiling of the
majority: the share of human pair votes equal to the majority outcome, over items with two
or more human labels; AI labels never enter it.

A result's ``fingerprint`` names its inputs: the method, the sources read, the voting labels'
ids and the deciding review (with Dawid–Skene, every label of the fit). A stored consensus
whose fingerprint differs from :func:`fingerprint_of` is stale and recomputed on read, so
switching ``judges.in_consensus`` (or the method) takes effect at the next read without a
sweep.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..models import Annotation, Project, Review
from . import bradley_terry, dawid_skene
from .consensus import majority_ranking, tiers_of_positions
from .labels import (
    ItemInfo,
    LabelSet,
    consensus_sources,
    counted_labels,
    counted_rows,
    pair_table,
)

METHODS = ("majority", "bradley_terry", "dawid_skene")
DECISIVE = (Review.Decision.ACCEPT, Review.Decision.RANK, Review.Decision.GOLD)


@dataclass(frozen=True)
class Result:
    ranking: list[list[int]]  # tiers of response ids
    confidence: float
    agreement: float | None
    n_labels: int
    source: str
    fingerprint: str


def decisive_reviews(*, project: Project, item_ids=None) -> dict[int, tuple[int, list]]:
    """item id → (review id, ranking) of each item's newest decisive review."""
    rows = Review.objects.filter(item__project=project, decision__in=DECISIVE)
    if item_ids is not None:
        rows = rows.filter(item_id__in=list(item_ids))
    out: dict[int, tuple[int, list]] = {}
    for pk, item_id, ranking in rows.order_by("id").values_list("pk", "item_id", "ranking"):
        out[item_id] = (pk, ranking)
    return out


def _digest(*parts) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _fingerprint(method: str, label_ids, review_id, project_digest: str, sources) -> str:
    return _digest(method, sorted(label_ids), review_id, project_digest, _names(sources))


def _names(sources) -> tuple[str, ...]:
    return tuple(sorted({str(source) for source in sources}))


def _project_digest(label_ids) -> str:
    return _digest(sorted(label_ids))


def fingerprint_of(*, item, method: str, sources=None) -> str | None:
    """What ``compute`` would fingerprint the item's consensus with, from ids alone (no
    fit): a stored row with this fingerprint is current. None: nothing to compute."""
    sources = consensus_sources(item.project) if sources is None else sources
    rows = counted_rows(project=item.project, sources=sources)
    label_ids = list(rows.filter(item=item).values_list("pk", flat=True))
    review = decisive_reviews(project=item.project, item_ids=[item.pk]).get(item.pk)
    if not label_ids and review is None:
        return None
    digest = (_project_digest(rows.values_list("pk", flat=True))
              if method == "dawid_skene" else "")
    return _fingerprint(method, label_ids, review[0] if review else None, digest, sources)


def compute(*, project: Project, method: str, item_ids=None,
            sources=None) -> dict[int, Result]:
    """item id → consensus for every item with counted labels or a decisive review (of
    ``item_ids`` only, when given; Dawid–Skene still fits on the whole project). The voters
    are the counted labels of ``sources`` (None: the project's settings, see the module
    doc)."""
    if method not in METHODS:
        raise ValueError(f"unknown consensus method {method!r}")
    sources = consensus_sources(project) if sources is None else sources
    wanted = None if item_ids is None else set(item_ids)
    scope = None if method == "dawid_skene" else wanted
    found = counted_labels(project=project, sources=sources, item_ids=scope)
    reviews = decisive_reviews(project=project, item_ids=wanted)
    by_item = found.by_item()
    project_digest = (_project_digest(label.id for label in found.labels)
                      if method == "dawid_skene" else "")
    fitted = _dawid_skene(found) if method == "dawid_skene" else {}
    out: dict[int, Result] = {}
    for item_id in set(by_item) | set(reviews):
        if wanted is not None and item_id not in wanted:
            continue
        labels = by_item.get(item_id, [])
        review = reviews.get(item_id)
        fingerprint = _fingerprint(method, [label.id for label in labels],
                                   review[0] if review else None, project_digest, sources)
        human = [label.tiers for label in labels if label.source == Annotation.Source.HUMAN]
        info = found.items.get(item_id)
        agreement = (majority_ranking(human, info.k)[1]
                     if info is not None and len(human) > 1 else None)
        if review:
            out[item_id] = Result(ranking=review[1], confidence=1.0, agreement=agreement,
                                  n_labels=len(labels), source="review", fingerprint=fingerprint)
            continue
        tiers, confidence = _rank(method, [label.tiers for label in labels], info,
                                  fitted.get(item_id))
        out[item_id] = Result(ranking=info.ids_of(tiers), confidence=float(confidence),
                              agreement=agreement, n_labels=len(labels), source="labels",
                              fingerprint=fingerprint)
    return out


def item_result(*, item, method: str, sources) -> Result | None:
    """One item's consensus from the labels of ``sources`` (None: nothing to compute)."""
    return compute(project=item.project, method=method, item_ids=[item.pk],
                   sources=sources).get(item.pk)


def _rank(method: str, rankings: list, info: ItemInfo, fitted) -> tuple[list, float]:
    if method == "majority":
        return majority_ranking(rankings, info.k)
    if method == "bradley_terry":
        return bradley_terry.bradley_terry_ranking(rankings, info.k)
    return fitted


def _dawid_skene(found: LabelSet) -> dict[int, tuple[list, float]]:
    """Fit once over the project's pair units; each item's tiers and confidence."""
    if not found.labels:
        return {}
    table = pair_table(found.labels, found.items)
    fit = dawid_skene.dawid_skene(table.unit, table.rater, table.value,
                                  n_units=table.n_units, n_raters=len(table.rater_ids))
    out = {}
    first_unit = np.searchsorted(table.unit_item, np.arange(len(table.item_ids)))
    for index, item_id in enumerate(table.item_ids):
        k = found.items[item_id].k
        pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
        start = first_unit[index]
        posteriors = fit.posteriors[start:start + len(pairs)]
        out[item_id] = dawid_skene.pairs_to_ranking(posteriors, pairs, k)
    return out


def review_ranking_positions(ranking, info: ItemInfo):
    """A review's ranking of response ids as tiers of positions (None if it no longer
    matches the item)."""
    return tiers_of_positions(ranking, {rid: p for p, rid in enumerate(info.response_ids)})
