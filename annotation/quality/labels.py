"""Reads: the labels quality figures count, as plain rows and pair-vote arrays.

Counted labels are a project's annotations that are not excluded by a reviewer and not
practice answers (practice teaches, it does not measure), from the sources asked for:
agreement and trust read ``human`` labels only; consensus also reads ``import`` labels,
which seed it (one pseudo-rater, "imported"); AI labels belong to the judges.

Rankings are rewritten as tiers of response *positions* in the stored item (never the
order an annotator was shown) through :func:`annotation.quality.consensus.tiers_of_positions`;
a label that no longer matches its item is left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.db.models import Q

from ..models import Annotation, Item, Project, Response
from .consensus import pair_votes, tiers_of_positions

HUMAN = (Annotation.Source.HUMAN,)
HUMAN_AND_IMPORT = (Annotation.Source.HUMAN, Annotation.Source.IMPORT)
# The value of a pair (i, j) as an ordered category: 0 = j wins, 1 = tie, 2 = i wins.
CATEGORY_OF_VOTE = {-1: 0, 0: 1, 1: 2}


@dataclass
class ItemInfo:
    response_ids: list[int]  # by position
    is_gold: bool
    gold: list[list[int]] | None  # tiers of positions

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


def counted_labels(*, project: Project, sources: Sequence[str] = HUMAN,
                   guideline_version: int | None = None, since: datetime | None = None,
                   item_ids: Iterable[int] | None = None, with_display: bool = False) -> LabelSet:
    rows = Annotation.objects.filter(project=project, source__in=list(sources), excluded=False)
    rows = rows.filter(Q(assignment__isnull=True) | Q(assignment__is_practice=False))
    if guideline_version is not None:
        rows = rows.filter(guideline_version=guideline_version)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if item_ids is not None:
        rows = rows.filter(item_id__in=list(item_ids))
    columns = ["id", "item_id", "annotator_id", "source", "created_at", "ranking", "flags",
               "duration_ms", "annotator__username"]
    if with_display:
        columns.append("assignment__display_order")
    raw = list(rows.order_by("id").values_list(*columns))
    items = items_info(item_ids={row[1] for row in raw})
    labels, usernames = [], {}
    for row in raw:
        info = items.get(row[1])
        if info is None:
            continue
        position_of = {rid: pos for pos, rid in enumerate(info.response_ids)}
        tiers = tiers_of_positions(row[5], position_of)
        if tiers is None:
            continue
        display = None
        if with_display and row[9]:
            display = [position_of[rid] for rid in row[9] if rid in position_of]
            display = display if len(display) == info.k else None
        if row[2] is not None:
            usernames[row[2]] = row[8]
        labels.append(Label(id=row[0], item_id=row[1], annotator_id=row[2], source=row[3],
                            created_at=row[4], tiers=tiers, flags=list(row[6] or []),
                            duration_ms=row[7], display=display))
    return LabelSet(labels=labels, items=items, usernames=usernames)


def items_info(*, item_ids: Iterable[int]) -> dict[int, ItemInfo]:
    ids = list(item_ids)
    responses: dict[int, list[int]] = {}
    for chunk in _chunks(ids):
        for item_id, rid in (Response.objects.filter(item_id__in=chunk)
                             .order_by("item_id", "position").values_list("item_id", "pk")):
            responses.setdefault(item_id, []).append(rid)
    out = {}
    for chunk in _chunks(ids):
        for pk, is_gold, gold in Item.objects.filter(pk__in=chunk).values_list(
                "pk", "is_gold", "gold_ranking"):
            rids = responses.get(pk, [])
            if len(rids) < 2:
                continue
            gold_tiers = None
            if is_gold and gold:
                gold_tiers = tiers_of_positions(gold, {rid: p for p, rid in enumerate(rids)})
            out[pk] = ItemInfo(response_ids=rids, is_gold=is_gold, gold=gold_tiers)
    return out


def _chunks(ids: list[int], size: int = 5000):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


@dataclass
class PairTable:
    """Long-format pair votes: one row per (unit, rater); units are (item, i, j), i < j."""

    unit: np.ndarray
    rater: np.ndarray
    value: np.ndarray
    unit_item: np.ndarray  # item index of each unit
    item_ids: list[int]  # item index → item id
    rater_ids: list[int | None]  # rater index → annotator id (None: imported labels)
    label_of_row: np.ndarray  # index into the label list

    @property
    def n_units(self) -> int:
        return int(self.unit_item.size)


def pair_table(labels: Sequence[Label], items: dict[int, ItemInfo]) -> PairTable:
    item_index: dict[int, int] = {}
    unit_base: list[int] = []
    unit_item: list[int] = []
    rater_index: dict[int | None, int] = {}
    unit, rater, value, label_rows = [], [], [], []
    for n, label in enumerate(labels):
        k = items[label.item_id].k
        if label.item_id not in item_index:
            item_index[label.item_id] = len(item_index)
            unit_base.append(len(unit_item))
            unit_item.extend([item_index[label.item_id]] * (k * (k - 1) // 2))
        base = unit_base[item_index[label.item_id]]
        r = rater_index.setdefault(label.annotator_id, len(rater_index))
        for offset, vote in enumerate(pair_votes(label.tiers, k).values()):
            unit.append(base + offset)
            rater.append(r)
            value.append(CATEGORY_OF_VOTE[vote])
            label_rows.append(n)
    as_int = lambda xs: np.asarray(xs, dtype=np.int64)  # noqa: E731
    return PairTable(unit=as_int(unit), rater=as_int(rater), value=as_int(value),
                     unit_item=as_int(unit_item), item_ids=list(item_index),
                     rater_ids=list(rater_index), label_of_row=as_int(label_rows))
