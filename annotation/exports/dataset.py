"""The export dataset: the items of a project with their counted labels and consensus, read
in chunks, handed to a format (:mod:`annotation.exports.formats`) one item at a time.

The pipeline mirrors :mod:`annotation.imports`: this module reads, the format shapes a row,
a writer (:mod:`annotation.exports.writers`) encodes. Memory is constant in the size of
the project, apart from one Dawid–Skene fit: items come from one server-side cursor
(``.iterator(chunk_size=ITEM_CHUNK)``) in id order, and each chunk of items costs one query
for its labels, one for its responses and (when the project has any) one for its reviews,
as plain ``values_list`` rows whose JSON columns are parsed in one ``json.loads`` per chunk.
An item with a single label and the majority method takes its ranking from that label
without a consensus computation.

Which labels count (``selected_labels``): the counted labels of
:func:`annotation.quality.labels.counted_rows` (never a label a reviewer excluded, never a
practice answer) from the parameters' sources (human and imported by default; the
``consensus`` format adds AI labels as voters when ``judges.in_consensus`` is on, and a
rebuild from a manifest reads them whenever its manifest lists them), on non-gold items
unless ``include_gold``, narrowed by ``annotators``, ``guideline_version`` and
``since``. A label whose ranking no longer names its item's responses is left out, as
quality figures leave it out.

Which items: those with a counted label, in id order, in the asked-for split (see
:mod:`annotation.exports.params`). An item a reviewer decided (its newest ``accept`` /
``rank`` / ``gold`` review) takes the review's ranking, and is exported even when all its
labels were excluded, unless a filter picks labels (annotators, guideline version, since)
or the source is ``ai``: reviews decide people's labels, and a judge's export is the
judge's alone.

Per item: ``n_labels`` counts its selected labels, ``n_annotations`` those neither imported
nor, unless ``source=ai``, AI labels (people's, or a judge's with ``source=ai``), and ``agreement`` is the share of those labels'
pair votes that equal the majority outcome (:func:`annotation.quality.consensus.
majority_ranking`), None below two. The consensus is the parameters' method (the project's
``quality.consensus`` by default) over the selected labels, exactly as
:func:`annotation.quality.compute.compute` computes it; Dawid–Skene is fitted once per export
over every selected label. ``min_annotations`` and ``min_agreement`` then drop items.

A :class:`Manifest` is what an export reads: the selected labels of every item that gives
at least one row, with Dawid–Skene every selected label (all of them shape the fit), and the
reviews that decided a ranking. Passing it to :func:`export_rows` restricts the export to
those labels and reviews, so a rebuild gives the same bytes, unless one of them has since
been excluded or deleted (excluded labels never appear) or an item has become gold.

Transactions: :func:`export_rows` opens none. Outside one, PostgreSQL materialises the item
cursor when it opens (Django declares it ``WITH HOLD``), and a caller may write between rows
(a snapshot recording its progress). The streaming endpoint reads inside one read-only
transaction on PostgreSQL instead (:func:`consistent_read`), so a download is one
consistent snapshot of the data; on SQLite each chunk reads what is committed when it runs.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet, TextField
from django.db.models.functions import Cast

from ..models import Annotation, Item, Project, Response, Review
from ..project_settings import project_settings
from ..quality import bradley_terry, dawid_skene
from ..quality.compute import DECISIVE
from ..quality.consensus import majority_ranking, tiers_of_positions
from ..quality.labels import Label, counted_rows, items_info, pair_table
from . import formats
from .formats import ExportItem, ExportLabel, ExportResponse, ExportReview
from .params import ExportParams

ITEM_CHUNK = 2000
FIT_CHUNK = 5000
IMPORT = Annotation.Source.IMPORT.value
AI = Annotation.Source.AI.value


@dataclass(frozen=True)
class Manifest:
    annotation_ids: tuple[int, ...]
    review_ids: tuple[int, ...]


def pseudonym(*, project_id: int, user_id: int) -> str:
    """A stable pseudonymous annotator id: ``"a_"`` + the first 16 hex digits of
    HMAC-SHA256(SECRET_KEY, "<project id>:<user id>"). The same person has a different one
    in every project, and nobody without the secret key can tell who it is (it changes
    if the key is rotated)."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"{project_id}:{user_id}".encode(),
                      hashlib.sha256).hexdigest()
    return "a_" + digest[:16]


def label_sources(*, project: Project, params: ExportParams,
                  manifest: Manifest | None = None) -> tuple[str, ...]:
    """The sources an export reads (module doc)."""
    if params.source or params.format != "consensus":
        return params.sources
    if manifest is not None or project_settings(project).judges.in_consensus:
        return (*params.sources, AI)
    return params.sources


def selected_labels(*, project: Project, params: ExportParams,
                    sources: tuple[str, ...] | None = None) -> QuerySet[Annotation]:
    """The labels an export with these parameters counts (module doc)."""
    rows = counted_rows(project=project, sources=sources or params.sources)
    if not params.include_gold:
        rows = rows.filter(item__is_gold=False)
    if params.annotators is not None:
        rows = rows.filter(annotator_id__in=params.annotators)
    if params.guideline_version is not None:
        rows = rows.filter(guideline_version=params.guideline_version)
    if params.since is not None:
        rows = rows.filter(created_at__gte=params.since)
    return rows


def export_rows(*, project: Project, params: ExportParams,
                manifest: Manifest | None = None) -> Iterator[dict[str, Any]]:
    """The rows of the export in a stable order: by item id, then as the format orders an
    item's rows (pairs by position, labels by id)."""
    export = _Export(project=project, params=params, manifest=manifest)
    rows = export.format.rows
    for item in export.items(full=True):
        yield from rows(item)


def count_rows(*, project: Project, params: ExportParams,
               manifest: Manifest | None = None) -> int:
    """How many rows :func:`export_rows` gives now (one pass, without response texts)."""
    export = _Export(project=project, params=params, manifest=manifest)
    count = export.format.count
    return sum(count(item) for item in export.items(full=False))


def manifest(*, project: Project, params: ExportParams) -> Manifest:
    """The labels and reviews an export with these parameters reads now (module doc)."""
    export = _Export(project=project, params=params, manifest=None)
    label_ids: set[int] = set()
    review_ids: set[int] = set()
    for item in export.items(full=False):
        if export.format.count(item):
            label_ids.update(label.id for label in item.labels)
            if item.review is not None:
                review_ids.add(item.review.id)
    label_ids.update(export.fit_label_ids)
    return Manifest(annotation_ids=tuple(sorted(label_ids)), review_ids=tuple(sorted(review_ids)))


def preview(*, project: Project, params: ExportParams, n: int = 10) -> dict[str, Any]:
    """``{"rows": the first n rows, "count": every row}`` for a page that shows an export
    before it is downloaded or snapshotted."""
    with consistent_read():
        rows = export_rows(project=project, params=params)
        try:
            first = list(islice(rows, max(0, n)))
        finally:
            rows.close()  # its cursor, inside the transaction that holds it
        return {"rows": first, "count": count_rows(project=project, params=params)}


@contextmanager
def consistent_read() -> Iterator[None]:
    """On PostgreSQL, one REPEATABLE READ, READ ONLY transaction for an export that nothing
    writes beside on this connection: every chunk sees the same data, and the item cursor
    streams instead of being materialised. Inside a transaction already, that one is used
    as it is. Elsewhere nothing: SQLite transactions here take the write lock at BEGIN
    (``transaction_mode`` IMMEDIATE), which would hold every writer off for the whole
    download."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def _json_texts(texts: list[str | None]) -> list:
    """Many small JSON documents in one parse (a per-row ``json.loads`` costs more)."""
    return json.loads("[" + ",".join(t if t is not None else "null" for t in texts) + "]")


def _scope(ids: list[int]) -> dict[str, Any]:
    """The filter for the rows of a chunk of items (ids ascending). A dense chunk is an id
    range, one index range scan that planners never mistake for a table scan; rows of items
    in the range but not in the chunk are fetched and ignored. A sparse one (a split) is
    the id list."""
    if ids[-1] - ids[0] < 2 * len(ids):
        return {"item_id__gte": ids[0], "item_id__lte": ids[-1]}
    return {"item_id__in": ids}


def _positions(ranking, position_of: dict[int, int]) -> list[list[int]] | None:
    """Tiers of response ids → tiers of positions, or None when the ranking does not name
    every response once; :func:`tiers_of_positions` without its conversions, which it
    still does for anything this fast path does not take."""
    try:
        tiers = [[position_of[rid] for rid in tier] for tier in ranking if tier]
    except (KeyError, TypeError):
        return tiers_of_positions(ranking, position_of)
    seen = {p for tier in tiers for p in tier}
    if len(seen) != len(position_of) or sum(map(len, tiers)) != len(seen):
        return None
    return tiers


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


class _Export:
    """What one export reads, resolved once: the format, the labels, the method, the fit."""

    def __init__(self, *, project: Project, params: ExportParams, manifest: Manifest | None):
        self.project, self.params = project, params
        self.format = formats.formatter(params.format, ties=params.ties)
        self.method = params.consensus or project_settings(project).quality.consensus
        sources = label_sources(project=project, params=params, manifest=manifest)
        self.labels = selected_labels(project=project, params=params, sources=sources)
        # Chunks are of items already filtered: their labels need no second look at the item.
        self.chunk_labels = selected_labels(project=project, sources=sources,
                                            params=replace(params, include_gold=True))
        # Whose votes agreement and n_annotations count: people's, a judge's when asked for.
        self.not_rated = (IMPORT,) if params.source == AI else (IMPORT, AI)
        self.allowed_labels = set(manifest.annotation_ids) if manifest is not None else None
        self.allowed_reviews = set(manifest.review_ids) if manifest is not None else None
        self.uses_reviews = self.format.consensus and params.source != "ai"
        self.review_only_items = self.uses_reviews and not params.scopes_labels
        self.fit_label_ids: tuple[int, ...] = ()
        self.fitted: dict[int, tuple[list, float]] = {}
        self.pseudonyms: dict[int, str] = {}
        self.has_reviews = False
        self.texts = self.details = False

    # --- the item stream --------------------------------------------------------------

    def items(self, *, full: bool) -> Iterator[ExportItem]:
        """The exported items in id order: ``full`` with everything the format writes,
        else only what counting rows needs (no texts, no label details)."""
        self.texts = texts = full and self.format.texts
        self.details = full and self.format.details
        if self.uses_reviews:
            self.has_reviews = (bool(self.allowed_reviews) if self.allowed_reviews is not None
                                else self._decisive_reviews().exists())
        if self.format.consensus and self.method == "dawid_skene":
            self._fit_dawid_skene()
        columns = ["id", "content_hash"]
        if texts:
            columns += ["prompt", "messages_text"] + (["meta_text"] if self.format.meta else [])
        chunk: list[tuple] = []
        split = self.params.in_split if self.params.split else None
        for row in self._item_rows().values_list(*columns).iterator(chunk_size=ITEM_CHUNK):
            if split is not None and not split(row[1]):
                continue
            chunk.append(row)
            if len(chunk) == ITEM_CHUNK:
                yield from self._built(chunk)
                chunk = []
        if chunk:
            yield from self._built(chunk)

    def _built(self, chunk: list[tuple]) -> list[ExportItem]:
        """A chunk's items, built with the cyclic garbage collector paused.

        The chunk's rows, labels and responses hold no reference cycles (reference counting
        frees them), but they are tens of thousands of live containers that every collection
        during the build would scan again: a fifth of the export's CPU time in measurements.
        The pause is one chunk's build, never across a yield, and leaves a collector that
        someone else turned off as it was."""
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return list(self._chunk(chunk))
        finally:
            if was_enabled:
                gc.enable()

    def _item_rows(self) -> QuerySet[Item]:
        rows = Item.objects.filter(project=self.project)
        if not self.params.include_gold:
            rows = rows.filter(is_gold=False)
        wanted = Exists(self.labels.filter(item_id=OuterRef("pk")))
        if self.review_only_items and self.has_reviews:
            wanted |= Exists(self._decisive_reviews().filter(item_id=OuterRef("pk")))
        return (rows.filter(wanted).order_by("id")
                .annotate(messages_text=Cast("messages", TextField()),
                          meta_text=Cast("meta", TextField())))

    def _decisive_reviews(self) -> QuerySet[Review]:
        return Review.objects.filter(item__project=self.project, decision__in=DECISIVE)

    def _chunk(self, chunk: list[tuple]) -> Iterator[ExportItem]:
        ids, texts = [row[0] for row in chunk], self.texts
        responses = self._responses(ids)
        labels = self._labels(ids, responses)
        reviews = self._reviews(ids) if self.has_reviews else {}
        if texts:
            messages = _json_texts([row[3] for row in chunk])
            metas = (_json_texts([row[4] for row in chunk]) if self.format.meta
                     else [None] * len(chunk))
        for n, row in enumerate(chunk):
            item_id = row[0]
            shown = responses.get(item_id)
            if shown is None or len(shown) < 2:
                continue
            item = ExportItem(id=item_id, prompt=row[2] if texts else "",
                              messages=messages[n] if texts else None, responses=shown,
                              labels=labels.get(item_id, []),
                              meta=(metas[n] or {}) if texts else {})
            if self._decide(item, reviews.get(item_id)):
                yield item

    def _responses(self, ids: list[int]) -> dict[int, list[ExportResponse]]:
        columns = ["item_id", "id", "position"] + (["text", "model"] if self.texts else [])
        out: dict[int, list[ExportResponse]] = {}
        for row in (Response.objects.filter(**_scope(ids)).order_by("item_id", "position")
                    .values_list(*columns)):
            out.setdefault(row[0], []).append(ExportResponse(*row[1:]))
        return out

    def _labels(self, ids: list[int],
                responses: dict[int, list[ExportResponse]]) -> dict[int, list[ExportLabel]]:
        """The chunk's selected labels by item, rankings as positions (module doc)."""
        details = self.details
        rows = self.chunk_labels.filter(**_scope(ids)).annotate(
            ranking_text=Cast("ranking", TextField()))
        columns = ["id", "item_id", "source", "ranking_text", "strength"]
        if details:
            rows = rows.annotate(flags_text=Cast("flags", TextField()),
                                 display_text=Cast("assignment__display_order", TextField()))
            rows = rows.annotate(response_flags_text=Cast("response_flags", TextField()))
            columns += ["flags_text", "display_text", "annotator_id", "rationale", "duration_ms",
                        "guideline_version", "created_at", "response_flags_text"]
        raw = list(rows.order_by("item_id", "id").values_list(*columns))
        if self.allowed_labels is not None:
            raw = [row for row in raw if row[0] in self.allowed_labels]
        rankings = _json_texts([row[3] for row in raw])
        if details:
            flags = _json_texts([row[5] for row in raw])
            shown = _json_texts([row[6] for row in raw])
            per_response = _json_texts([row[12] for row in raw])
        out: dict[int, list[ExportLabel]] = {}
        item_id, position_of = None, {}
        for n, row in enumerate(raw):
            if row[1] != item_id:
                item_id = row[1]
                position_of = {r.id: p for p, r in enumerate(responses.get(item_id, ()))}
                labels = out.setdefault(item_id, [])
            tiers = _positions(rankings[n], position_of)
            if tiers is None:
                continue
            label = ExportLabel(id=row[0], source=row[2], tiers=tiers, ranking=rankings[n],
                                strength=row[4])
            if details:
                label.flags, label.display_order = list(flags[n] or []), shown[n]
                label.annotator = self._pseudonym(row[7]) if row[7] is not None else None
                (label.rationale, label.duration_ms, label.guideline_version,
                 label.created_at) = row[8], row[9], row[10], _iso(row[11])
                label.response_flags = dict(per_response[n] or {})
            labels.append(label)
        return out

    def _pseudonym(self, user_id: int) -> str:
        known = self.pseudonyms.get(user_id)
        if known is None:
            known = self.pseudonyms[user_id] = pseudonym(project_id=self.project.pk,
                                                         user_id=user_id)
        return known

    def _reviews(self, ids: list[int]) -> dict[int, tuple]:
        rows = (Review.objects.filter(**_scope(ids), decision__in=DECISIVE).order_by("id")
                .annotate(ranking_text=Cast("ranking", TextField()))
                .values_list("id", "item_id", "decision", "ranking_text", "note", "created_at"))
        newest: dict[int, tuple] = {}
        for row in rows:
            if self.allowed_reviews is None or row[0] in self.allowed_reviews:
                newest[row[1]] = row
        return newest

    # --- per item: consensus, agreement, filters --------------------------------------

    def _decide(self, item: ExportItem, review: tuple | None) -> bool:
        """Fill in the item's consensus and figures; False when a filter drops it."""
        labels, k = item.labels, len(item.responses)
        rated = [label.tiers for label in labels if label.source not in self.not_rated]
        item.n_labels, item.n_annotations = len(labels), len(rated)
        params = self.params
        if params.min_annotations is not None and len(rated) < params.min_annotations:
            return False
        of_rated = majority_ranking(rated, k) if len(rated) > 1 else None
        item.agreement = of_rated[1] if of_rated is not None else None
        if params.min_agreement is not None and (item.agreement is None
                                                 or item.agreement < params.min_agreement):
            return False
        if not self.format.consensus:
            return bool(labels)
        item.method = self.method
        if review is not None:
            ranking = tiers_of_positions(json.loads(review[3]) if review[3] else None,
                                         {r.id: p for p, r in enumerate(item.responses)})
            if ranking is not None:
                item.ranking, item.confidence = ranking, 1.0
                item.review = ExportReview(id=review[0], decision=review[2], note=review[4],
                                           created_at=_iso(review[5]))
                return True
        if not labels:
            return False
        if of_rated is not None and self.method == "majority" and len(rated) == len(labels):
            item.ranking, item.confidence = of_rated  # the same computation, done above
        else:
            item.ranking, item.confidence = self._consensus(item.id,
                                                            [lb.tiers for lb in labels], k)
        return True

    def _consensus(self, item_id: int, rankings: list, k: int) -> tuple[list, float]:
        if self.method == "majority":
            if len(rankings) == 1:
                # majority_ranking of one ranking is that ranking (each tier sorted), with
                # confidence 1: Copeland scores fall strictly from tier to tier.
                return [sorted(tier) for tier in rankings[0]], 1.0
            return majority_ranking(rankings, k)
        if self.method == "bradley_terry":
            tiers, confidence = bradley_terry.bradley_terry_ranking(rankings, k)
            return tiers, float(confidence)
        fitted = self.fitted.get(item_id)
        if fitted is None:  # a label newer than the fit
            return majority_ranking(rankings, k)
        return fitted[0], float(fitted[1])

    def _fit_dawid_skene(self) -> None:
        """One fit over every selected label (as compute._dawid_skene fits the project)."""
        rows = (self.labels.annotate(ranking_text=Cast("ranking", TextField()))
                .order_by("item_id", "id")
                .values_list("id", "item_id", "annotator_id", "source", "ranking_text"))
        raw = [row for row in rows.iterator(chunk_size=FIT_CHUNK)
               if self.allowed_labels is None or row[0] in self.allowed_labels]
        rankings = _json_texts([row[4] for row in raw])
        infos = items_info(project=self.project, item_ids={row[1] for row in raw})
        labels = []
        for row, ranking in zip(raw, rankings, strict=True):
            info = infos.get(row[1])
            tiers = tiers_of_positions(ranking, info.position_of) if info is not None else None
            if tiers is not None:
                labels.append(Label(id=row[0], item_id=row[1], annotator_id=row[2],
                                    source=row[3], created_at=None, tiers=tiers, flags=[],
                                    duration_ms=None))
        self.fit_label_ids = tuple(label.id for label in labels)
        if not labels:
            return
        table = pair_table(labels, infos)
        fit = dawid_skene.dawid_skene(table.unit, table.rater, table.value,
                                      n_units=table.n_units, n_raters=len(table.rater_ids))
        start = 0
        for item_id in table.item_ids:
            k = infos[item_id].k
            pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
            posteriors = fit.posteriors[start:start + len(pairs)]
            start += len(pairs)
            self.fitted[item_id] = dawid_skene.pairs_to_ranking(posteriors, pairs, k)
