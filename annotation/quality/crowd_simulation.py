"""A seeded crowd of annotators ranking items, to check quality control against a known truth.

Items have K responses with hidden true utilities u ~ N(0, 1); the true ranking orders them
by utility. A share ``gold_rate`` of the items is hidden gold (known answer = the truth).

Annotator types:

- ``careful``: Thurstone's case V model (Thurstone 1927, "A law of comparative
  judgment"): each label perceives u_i + ε_i, ε ~ N(0, σ²) with σ = 0.5, so a pair is
  ordered correctly with probability 1/2 + arctan(1/σ)/π ≈ 0.85; responses whose perceived
  utilities lie within ``TIE_GAP`` of their neighbour share a tier (a few per cent of the
  pairs). Seconds per task lognormal around 32 s (most between 25 and 40 s).
- ``random``: a uniformly random strict ranking, at a normal pace (lognormal around 25 s).
- ``first_shown``: ranks in display order, first shown best, somewhat quick (around 15 s).
- ``too_fast``: the careful model with σ = 1.5 (a pair right ≈ 0.69 of the time), in 1 to 3 s.

Assignment mirrors the platform's engine (``annotation.assignment.services``): annotators
ask for tasks in turn (a shuffled round each time); a task is the first open non-gold item
(started items first, then oldest) with fewer than ``overlap`` labels that the annotator has
not had, and with probability ``gold_rate`` it is replaced by the oldest gold item that
annotator has not had, so gold items are labelled by many. Each label gets a fresh random
display order. Careful annotators also skip a few tasks (``SKIP_RATE``).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from annotation.quality.signals import LabelRecord

TYPES = ("careful", "random", "first_shown", "too_fast")
NOISE = {"careful": 0.5, "too_fast": 1.5}
TIE_GAP = 0.08
SKIP_RATE = 0.04
# Lognormal pace per type: (median seconds, sigma of log seconds).
PACE = {"careful": (32.0, 0.15), "random": (25.0, 0.3), "first_shown": (15.0, 0.3)}


@dataclass(frozen=True)
class SimulatedItem:
    item: int
    utilities: tuple[float, ...]
    truth: list[list[int]]
    gold: bool

    @property
    def k(self) -> int:
        return len(self.utilities)


@dataclass(frozen=True)
class Crowd:
    items: list[SimulatedItem]
    gold: dict[int, list[list[int]]]
    labels: list[LabelRecord]
    annotator_types: dict[str, str]
    skips: dict[str, int]

    @property
    def bad(self) -> set[str]:
        return {a for a, kind in self.annotator_types.items() if kind != "careful"}


def _tiers_from_scores(scores: np.ndarray, tie_gap: float) -> list[list[int]]:
    """Positions ordered by score, best first; neighbours closer than tie_gap share a tier."""
    order = np.argsort(-scores, kind="stable")
    tiers = [[int(order[0])]]
    for previous, position in zip(order[:-1], order[1:], strict=True):
        if scores[previous] - scores[position] < tie_gap:
            tiers[-1].append(int(position))
        else:
            tiers.append([int(position)])
    return [sorted(t) for t in tiers]


def _label(
    kind: str, item: SimulatedItem, display: np.ndarray, rng: np.random.Generator
) -> tuple[list[list[int]], float]:
    if kind in NOISE:
        perceived = np.asarray(item.utilities) + rng.normal(0.0, NOISE[kind], item.k)
        tiers = _tiers_from_scores(perceived, TIE_GAP)
    elif kind == "random":
        tiers = [[int(p)] for p in rng.permutation(item.k)]
    elif kind == "first_shown":
        tiers = [[int(p)] for p in display]
    else:
        raise ValueError(f"unknown annotator type {kind!r}; expected one of {TYPES}")
    if kind == "too_fast":
        seconds = float(rng.uniform(1.0, 3.0))
    else:
        median, sigma = PACE[kind]
        seconds = float(median * np.exp(rng.normal(0.0, sigma)))
    return tiers, seconds


def simulate_crowd(
    n_items: int = 600,
    gold_rate: float = 0.1,
    annotators: Mapping[str, int] | None = None,
    labels_per_annotator: int = 50,
    k: int | Sequence[int] = 4,
    overlap: int = 3,
    seed: int = 0,
) -> Crowd:
    """A crowd of ``annotators`` (type → how many) each giving ``labels_per_annotator``
    labels (fewer if the queue runs dry) on ``n_items`` items. ``k`` is every item's number
    of responses, or a sequence of Ks drawn from uniformly per item (mixed K). Annotators
    are named ``"<type>-<n>"``; labels come in submission order."""
    if annotators is None:
        annotators = {"careful": 12, "random": 3, "first_shown": 3, "too_fast": 2}
    rng = np.random.default_rng(seed)
    ks = np.full(n_items, k) if np.isscalar(k) else rng.choice(np.asarray(k), n_items)
    n_gold = round(gold_rate * n_items)
    gold_ids = set(rng.choice(n_items, size=n_gold, replace=False).tolist())
    items = []
    for item in range(n_items):
        utilities = rng.normal(0.0, 1.0, int(ks[item]))
        items.append(
            SimulatedItem(
                item,
                tuple(float(u) for u in utilities),
                _tiers_from_scores(utilities, 0.0),
                item in gold_ids,
            )
        )
    gold = {it.item: it.truth for it in items if it.gold}

    types = {f"{kind}-{n}": kind for kind, count in annotators.items() for n in range(count)}
    # The open queue in serving order: started items (oldest first), then fresh ones.
    started: list[int] = []
    fresh = [it.item for it in items if not it.gold]
    gold_queue = sorted(gold)
    done = np.zeros(n_items, dtype=np.int64)
    had: dict[str, set[int]] = {who: set() for who in types}
    given = dict.fromkeys(types, 0)
    skips = dict.fromkeys(types, 0)
    labels: list[LabelRecord] = []
    active = list(types)
    while active:
        for who in [active[i] for i in rng.permutation(len(active))]:
            kind = types[who]
            chosen = next((i for i in chain(started, fresh) if i not in had[who]), None)
            if chosen is None or given[who] >= labels_per_annotator:
                active.remove(who)
                continue
            if rng.random() < gold_rate:
                chosen = next((g for g in gold_queue if g not in had[who]), chosen)
            had[who].add(chosen)
            if kind == "careful" and rng.random() < SKIP_RATE:
                skips[who] += 1
                continue
            item = items[chosen]
            display = rng.permutation(item.k)
            tiers, seconds = _label(kind, item, display, rng)
            labels.append(
                LabelRecord(
                    who, chosen, tiers, [int(p) for p in display], seconds, gold.get(chosen)
                )
            )
            done[chosen] += 1
            given[who] += 1
            if not item.gold:
                _advance(chosen, int(done[chosen]), overlap, started, fresh)
    return Crowd(items, gold, labels, types, skips)


def _advance(item: int, done: int, overlap: int, started: list[int], fresh: list[int]) -> None:
    """Move an item along the open queue after its ``done``-th label."""
    if done == 1:
        del fresh[bisect_left(fresh, item)]
        if overlap > 1:
            insort(started, item)
    elif done == overlap:
        del started[bisect_left(started, item)]


def ranking_of_response_ids(
    tiers: Sequence[Sequence[int]], response_ids: Sequence[Hashable]
) -> list[list[Hashable]]:
    """A label's tiers of positions → tiers of the item's response ids (``response_ids`` in
    the stored order, so position p is ``response_ids[p]``), as the REST API takes them.
    The same mapping turns a display order into the ids in the order shown."""
    return [[response_ids[p] for p in tier] for tier in tiers]
