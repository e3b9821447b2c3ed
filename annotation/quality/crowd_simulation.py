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

The same crowd can also annotate a running platform through its REST API
(``annotate_over_api``: the platform's own engine then chooses the tasks, gold included),
with the items imported from ``native_lines``; ``qc_precision_recall`` and
``score_consensus`` score what QC and consensus made of it against the truth.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from annotation.quality.consensus import pair_votes
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


def simulated_label(
    kind: str, item: SimulatedItem, display: Sequence[int], rng: np.random.Generator
) -> tuple[list[list[int]], float]:
    """One label by an annotator of type ``kind`` of ``item`` shown in ``display`` order
    (positions, first shown first): its tiers of positions, best first, and the seconds it
    took (the module docstring gives each type's model)."""
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


def _draw_items(
    rng: np.random.Generator, n_items: int, gold_rate: float, k: int | Sequence[int]
) -> list[SimulatedItem]:
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
    return items


def simulate_items(
    n_items: int = 600, gold_rate: float = 0.1, k: int | Sequence[int] = 4, seed: int = 0
) -> list[SimulatedItem]:
    """The items ``simulate_crowd`` with the same arguments and seed draws, without labels."""
    return _draw_items(np.random.default_rng(seed), n_items, gold_rate, k)


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
    items = _draw_items(rng, n_items, gold_rate, k)
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
            tiers, seconds = simulated_label(kind, item, display, rng)
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


# --- The same crowd through the REST API ------------------------------------------------
#
# Items travel as native import lines whose texts name the simulated item and each
# response's position, so a task read back from ``next`` says which simulated item it is
# and in which order its responses were shown. ``call(method, path, body)`` is one
# annotator's client (the Django test client, or HTTP to a server) answering
# ``(status, decoded JSON or None)``.

Call = Callable[[str, str, Mapping[str, Any] | None], tuple[int, Any]]


def native_lines(items: Sequence[SimulatedItem]) -> list[dict]:
    """Native import lines of ``items``, with ``gold`` on the gold ones (README "Items")."""
    lines = []
    for it in items:
        line: dict = {
            "prompt": f"item {it.item}",
            "responses": [f"item {it.item}, response {p}" for p in range(it.k)],
        }
        if it.gold:
            line["gold"] = {"ranking": it.truth}
        lines.append(line)
    return lines


def _simulated_item(prompt: str) -> int:
    return int(prompt.removeprefix("item "))


def _position(text: str) -> int:
    return int(text.rsplit(" ", 1)[1])


@dataclass(frozen=True)
class ApiCrowd:
    """What a crowd did through the API. ``labels`` name the annotator by the caller's key
    and the item by its simulated index; ``served`` maps a platform item id to its simulated
    index and its response ids by position."""

    labels: list[LabelRecord]
    skips: dict[str, int]
    served: dict[int, tuple[int, list[int]]]


def annotate_over_api(
    *,
    calls: Mapping[str, Call],
    project_id: int,
    items: Sequence[SimulatedItem],
    annotator_types: Mapping[str, str],
    labels_per_annotator: int = 50,
    skip_rate: float = SKIP_RATE,
    seed: int = 0,
) -> ApiCrowd:
    """Annotators ask ``next`` in a shuffled round each time and submit the label their type
    gives for the responses in the order shown, with ``duration_ms`` from its seconds,
    until each has ``labels_per_annotator`` labels or hears "nothing left" (204). Careful
    annotators skip a share ``skip_rate`` of their tasks, as in ``simulate_crowd``; which
    item comes next (gold included) is the platform's choice."""
    rng = np.random.default_rng(seed)
    given = dict.fromkeys(calls, 0)
    skips = dict.fromkeys(calls, 0)
    labels: list[LabelRecord] = []
    served: dict[int, tuple[int, list[int]]] = {}
    active = list(calls)
    while active:
        for who in [active[i] for i in rng.permutation(len(active))]:
            call, kind = calls[who], annotator_types[who]
            status, task = (
                call("GET", f"/api/v1/projects/{project_id}/next/", None)
                if given[who] < labels_per_annotator
                else (204, None)
            )
            if status == 204:
                active.remove(who)
                continue
            if status != 200:
                raise RuntimeError(f"next for {who}: HTTP {status} {task}")
            shown = task["item"]["responses"]
            item = items[_simulated_item(task["item"]["prompt"])]
            ids = [0] * item.k
            for response in shown:
                ids[_position(response["text"])] = response["id"]
            served[task["item"]["id"]] = (item.item, ids)
            display = [_position(response["text"]) for response in shown]
            assignment = task["assignment"]
            if kind == "careful" and rng.random() < skip_rate:
                status, body = call(
                    "POST", f"/api/v1/assignments/{assignment}/skip/", {"reason": "unsure"}
                )
                if status >= 300:
                    raise RuntimeError(f"skip by {who}: HTTP {status} {body}")
                skips[who] += 1
                continue
            tiers, seconds = simulated_label(kind, item, display, rng)
            status, body = call(
                "POST",
                f"/api/v1/assignments/{assignment}/submit/",
                {
                    "ranking": ranking_of_response_ids(tiers, ids),
                    "duration_ms": round(seconds * 1000),
                },
            )
            if status != 201:
                raise RuntimeError(f"submit by {who}: HTTP {status} {body}")
            labels.append(
                LabelRecord(
                    who, item.item, tiers, display, seconds, item.truth if item.gold else None
                )
            )
            given[who] += 1
    return ApiCrowd(labels, skips, served)


def qc_precision_recall(
    flagged: Collection[Hashable], bad: Collection[Hashable]
) -> tuple[float, float]:
    """Precision and recall of the flagged annotators against the bad ones (precision is 0
    when nobody is flagged)."""
    caught = len(set(flagged) & set(bad))
    return (caught / len(flagged) if flagged else 0.0), caught / len(bad)


@dataclass(frozen=True)
class ConsensusScore:
    """Of ``items`` consensus rankings: ``pair_accuracy``, the share of all their response
    pairs ordered as the truth orders them (a tie counts as wrong, the truth has none);
    ``exact``, the share of rankings equal to the truth, tier by tier. ``pairs_right``
    holds each item's count of pairs right, in the order of the items scored."""

    items: int
    pair_accuracy: float
    exact: float
    pairs_right: tuple[int, ...]


def score_consensus(
    rankings: Mapping[int, Sequence[Sequence[Hashable]]],
    crowd: ApiCrowd,
    items: Sequence[SimulatedItem],
    *,
    min_labels: int = 2,
) -> ConsensusScore:
    """Score ``rankings`` (platform item id → consensus tiers of response ids) against the
    truth over the non-gold items with at least ``min_labels`` of ``crowd``'s labels, in
    platform item id order; an item without a consensus ranking is an error."""
    counts: dict[int, int] = {}
    for record in crowd.labels:
        counts[record.item] = counts.get(record.item, 0) + 1
    right, exact, pairs = [], 0, 0
    for item_id, (index, ids) in sorted(crowd.served.items()):
        item = items[index]
        if item.gold or counts.get(index, 0) < min_labels:
            continue
        position_of = {rid: p for p, rid in enumerate(ids)}
        tiers = [sorted(position_of[rid] for rid in tier) for tier in rankings[item_id]]
        mine, truth = pair_votes(tiers, item.k), pair_votes(item.truth, item.k)
        right.append(sum(mine[p] == truth[p] for p in truth))
        pairs += len(truth)
        exact += tiers == item.truth
    if not right:
        raise ValueError(f"no non-gold item has {min_labels} labels or more")
    return ConsensusScore(len(right), sum(right) / pairs, exact / len(right), tuple(right))
