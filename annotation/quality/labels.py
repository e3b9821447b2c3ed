"""Reads: the labels quality figures count, as plain rows and pair-vote arrays.

Counted labels are a project's annotations that are not excluded by a reviewer and not
practice answers (practice teaches, it does not measure), from the sources asked for:
agreement and trust read ``human`` labels only; consensus also reads ``import`` labels,
which seed it (one pseudo-rater, "imported"). AI labels (``ai``, a judge's) are never a
person's vote: they join the consensus only when the project's ``judges.in_consensus`` is
on (:func:`consensus_sources`) or a request asks for them, each judge one more rater.

Rankings are rewritten as tiers of response *positions* in the stored item (never the
order an annotator was shown) through :func:`annotation.quality.consensus.tiers_of_positions`;
a label that no longer matches its item is left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.contrib.auth import get_user_model
from django.db.models import Q, TextField
from django.db.models.functions import Cast

from ..models import Annotation, Item, Project, Response
from ..project_settings import project_settings
from .consensus import tiers_of_positions

HUMAN = (Annotation.Source.HUMAN,)
HUMAN_AND_IMPORT = (Annotation.Source.HUMAN, Annotation.Source.IMPORT)
WITH_AI = (*HUMAN_AND_IMPORT, Annotation.Source.AI)
# The value of a pair (i, j) as an ordered category: 0 = j wins, 1 = tie, 2 = i wins.
CATEGORY_OF_VOTE = {-1: 0, 0: 1, 1: 2}
User = get_user_model()


@dataclass
class ItemInfo:
    response_ids: list[int]  # by position
    is_gold: bool
    gold: list[list[int]] | None  # tiers of positions
    position_of: dict[int, int] = field(default_factory=dict)  # response id → position

    @property
    def k(self) -> int:
        return len(self.response_ids)

    def ids_of(self, tiers: Sequence[Sequence[int]]) -> list[list[int]]:
        return [[self.response_ids[p] for p in tier] for tier in tiers]


@dataclass
class Label:
    id: int
    item_id: int
    annotator_id: int | None
    source: str
    created_at: datetime
    tiers: list[list[int]]  # positions
    flags: list[str]
    duration_ms: int | None
    display: list[int] | None = None  # positions in the order shown


@dataclass
class LabelSet:
    labels: list[Label]
    items: dict[int, ItemInfo]
    usernames: dict[int, str] = field(default_factory=dict)

    def by_item(self) -> dict[int, list[Label]]:
        out: dict[int, list[Label]] = {}
        for label in self.labels:
            out.setdefault(label.item_id, []).append(label)
        return out


def _json_texts(texts: list[str | None]) -> list:
    """Many small JSON documents parsed in one call (a per-row ``json.loads`` costs more
    than the query)."""
    return json.loads("[" + ",".join(text if text is not None else "null" for text in texts)
                      + "]")


def consensus_sources(project: Project) -> tuple[str, ...]:
    """The sources an item's consensus reads by the project's settings: human and imported
    labels, and AI labels too when ``judges.in_consensus`` is on."""
    return WITH_AI if project_settings(project).judges.in_consensus else HUMAN_AND_IMPORT


def counted_rows(*, project: Project, sources: Sequence[str] = HUMAN):
    """The counted annotations of the project from ``sources`` (see the module doc)."""
    # A superseded label was revised: only its revision counts.
    rows = Annotation.objects.filter(project=project, source__in=list(sources), excluded=False,
                                     superseded=False)
    return rows.filter(Q(assignment__isnull=True) | Q(assignment__is_practice=False))


def counted_labels(*, project: Project, sources: Sequence[str] = HUMAN,
                   guideline_version: int | None = None, since: datetime | None = None,
                   item_ids: Iterable[int] | None = None, with_display: bool = False) -> LabelSet:
    rows = counted_rows(project=project, sources=sources)
    if guideline_version is not None:
        rows = rows.filter(guideline_version=guideline_version)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if item_ids is not None:
        rows = rows.filter(item_id__in=list(item_ids))
    rows = rows.annotate(ranking_text=Cast("ranking", TextField()),
                         flags_text=Cast("flags", TextField()))
    columns = ["id", "item_id", "annotator_id", "source", "created_at", "ranking_text",
               "flags_text", "duration_ms"]
    if with_display:
        rows = rows.annotate(display_text=Cast("assignment__display_order", TextField()))
        columns.append("display_text")
    raw = list(rows.order_by("id").values_list(*columns))
    rankings = _json_texts([row[5] for row in raw])
    flags = _json_texts([row[6] for row in raw])
    displays = _json_texts([row[8] for row in raw]) if with_display else [None] * len(raw)
    items = items_info(project=project, item_ids={row[1] for row in raw})
    labels = []
    for row, ranking, flagged, shown in zip(raw, rankings, flags, displays, strict=True):
        info = items.get(row[1])
        if info is None:
            continue
        tiers = tiers_of_positions(ranking, info.position_of)
        if tiers is None:
            continue
        display = None
        if shown:
            display = [info.position_of[rid] for rid in shown if rid in info.position_of]
            display = display if len(display) == info.k else None
        labels.append(Label(id=row[0], item_id=row[1], annotator_id=row[2], source=row[3],
                            created_at=row[4], tiers=tiers, flags=list(flagged or []),
                            duration_ms=row[7], display=display))
    who = {label.annotator_id for label in labels} - {None}
    usernames = dict(User.objects.filter(pk__in=who).values_list("pk", "username"))
    return LabelSet(labels=labels, items=items, usernames=usernames)


def items_info(*, project: Project, item_ids: Iterable[int]) -> dict[int, ItemInfo]:
    ids = set(item_ids)
    # Most of a project: one pass over it beats thousands of ids in IN lists.
    whole = len(ids) > 2000
    responses: dict[int, list[int]] = {}
    rows = (Response.objects.filter(item__project=project) if whole
            else Response.objects.filter(item_id__in=ids))
    for item_id, rid in rows.order_by("item_id", "position").values_list("item_id", "pk"):
        if item_id in ids:
            responses.setdefault(item_id, []).append(rid)
    items = (Item.objects.filter(project=project) if whole
             else Item.objects.filter(pk__in=ids))
    out = {}
    for pk, gold in items.filter(is_gold=True).values_list("pk", "gold_ranking"):
        if pk in responses:
            out[pk] = gold
    infos = {}
    for pk, rids in responses.items():
        if len(rids) < 2:
            continue
        position_of = {rid: p for p, rid in enumerate(rids)}
        gold = tiers_of_positions(out[pk], position_of) if out.get(pk) else None
        infos[pk] = ItemInfo(response_ids=rids, is_gold=pk in out, gold=gold,
                             position_of=position_of)
    return infos


@dataclass
class PairTable:
    """Long-format pair votes: one row per (unit, rater); units are (item, i, j), i < j."""

    unit: np.ndarray
    rater: np.ndarray
    value: np.ndarray
    unit_item: np.ndarray  # item index of each unit
    item_ids: list[int]  # item index → item id
    # rater index → annotator id (None: imported labels; "ai": AI labels, one pseudo-rater)
    rater_ids: list[int | str | None]
    label_of_row: np.ndarray  # index into the label list

    @property
    def n_units(self) -> int:
        return int(self.unit_item.size)


def _rater(label: Label) -> int | str | None:
    """Who a label's votes belong to: its annotator; without one, imported labels are one
    pseudo-rater (None) and AI labels another ("ai"), never the same."""
    if label.annotator_id is None and label.source == Annotation.Source.AI:
        return "ai"
    return label.annotator_id


def pair_table(labels: Sequence[Label], items: dict[int, ItemInfo]) -> PairTable:
    item_index: dict[int, int] = {}
    unit_base: list[int] = []
    unit_item: list[int] = []
    rater_index: dict[int | str | None, int] = {}
    pairs_of: dict[int, list[tuple[int, int]]] = {}
    unit, rater, value, label_rows = [], [], [], []
    for n, label in enumerate(labels):
        k = items[label.item_id].k
        pairs = pairs_of.get(k)
        if pairs is None:
            pairs = pairs_of[k] = [(i, j) for i in range(k) for j in range(i + 1, k)]
        index = item_index.get(label.item_id)
        if index is None:
            index = item_index[label.item_id] = len(item_index)
            unit_base.append(len(unit_item))
            unit_item.extend([index] * len(pairs))
        base = unit_base[index]
        r = rater_index.setdefault(_rater(label), len(rater_index))
        tier_of = [0] * k
        for t, tier in enumerate(label.tiers):
            for pos in tier:
                tier_of[pos] = t
        # The category of (i, j): 2 when i is in a better (lower) tier, 1 tied, 0 worse.
        value.extend(1 + (tier_of[j] > tier_of[i]) - (tier_of[j] < tier_of[i])
                     for i, j in pairs)
        unit.extend(range(base, base + len(pairs)))
        rater.extend([r] * len(pairs))
        label_rows.extend([n] * len(pairs))
    as_int = lambda xs: np.asarray(xs, dtype=np.int64)  # noqa: E731
    return PairTable(unit=as_int(unit), rater=as_int(rater), value=as_int(value),
                     unit_item=as_int(unit_item), item_ids=list(item_index),
                     rater_ids=list(rater_index), label_of_row=as_int(label_rows))
