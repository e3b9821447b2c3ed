"""Export formats: one small class per format, an item in, dicts out (JSON Lines rows).

Framework-free on purpose, like :mod:`annotation.imports.formats`: the dataset
(:mod:`annotation.exports.dataset`) gathers each item with its responses, its counted labels
and its consensus into an :class:`ExportItem`; a format turns that into rows. Adding a format
is one class here and one entry in :data:`FORMATTERS`.

Rankings are tiers of response *positions* (0-based, the order of the stored item), best
first, as everywhere in :mod:`annotation.quality`.

``trl`` — TRL's preference format, one row per implied pair of the consensus ranking::

    {"prompt", "chosen", "rejected", "item_id", "agreement", "n_annotations", "margin"}

standard (strings) for an item with a plain prompt; conversational when the item has
``messages``: ``prompt`` is the message list and ``chosen`` / ``rejected`` are
``[{"role": "assistant", "content": ...}]``. A ranking of K responses implies a pair for
every two responses in different tiers (K = 4 strict: 6 pairs), written in the order of
their positions (0-1, 0-2, ..., 1-2, ...); ``chosen`` is the one ranked higher. Two
responses in one tier are a tie: left out with ``ties=drop``; with ``ties=keep`` written in
position order with ``"tie": true``, and every row of that export carries ``tie`` (false
for the others). ``agreement`` and ``n_annotations`` are the item's (see the dataset).

``margin`` (≥ 0): how clearly the item's labels prefer chosen over rejected, from vote
share and strength. Each counted label votes +1 (ranks chosen higher), 0 (ties them) or -1,
weighted by its strength: ``strength / 2`` (slight 0.5, clear 1, strong 1.5; a label without
a strength counts as clear, 1). margin = max(0, Σ vote · weight / n_labels): 1.0 for
unanimous plain labels, 1.5 unanimous and strong, 1/3 for a 2-1 split, 0 for a tie or when a
reviewer's decision goes against the votes. An item decided by a review with no counted
label counts the review as one clear vote (1.0).

``hh-rlhf`` — ``{"chosen": transcript, "rejected": transcript}``, one row per implied pair
as above, written by :func:`annotation.imports.formats.hh_rlhf_transcript`: the exact
inverse of our hh-rlhf import, so that importing the file gives back the same items (same
content hashes) with the same preferences. A plain prompt is one Human turn; hh-rlhf has no
system role, so a system message becomes a Human turn. hh-rlhf cannot say "tie": a pair
kept with ``ties=keep`` reads back as chosen ≻ rejected, unless its two texts are the same
(which the import reads as a tie).

``annotations`` — one row per counted label: ``annotation_id``, ``item_id``, ``annotator``
(a pseudonym, never a username; null for imported labels), ``source``, ``ranking`` (tiers of
response ids, as stored), ``ranking_positions``, ``display_order`` (the response ids in the
order the annotator was shown them; null without an assignment), ``strength``, ``flags``,
``rationale``, ``duration_ms``, ``guideline_version``, ``created_at`` (ISO 8601),
``response_flags`` (flags on single responses: ``[{"response_id", "flags"}]`` by id).

``consensus`` — one row per item: ``item_id``, ``prompt`` or ``messages``, ``responses``
(``[{"id", "position", "text", "model"}]``), ``ranking`` (tiers of response ids),
``ranking_positions``, ``method``, ``confidence``, ``agreement``, ``n_labels``,
``n_annotations``, ``review`` (``{"decision", "note", "created_at"}`` of the review that
decided the ranking, or null).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..imports.formats import hh_rlhf_transcript

Tiers = list[list[int]]
# A label without a strength counts as a clear preference (strength 2 → weight 1).
PLAIN_WEIGHT = 1.0


@dataclass(slots=True)
class ExportResponse:
    id: int
    position: int
    text: str = ""
    model: str = ""


@dataclass(slots=True)
class ExportLabel:
    id: int
    source: str
    tiers: Tiers  # positions
    ranking: list = field(default_factory=list)  # tiers of response ids, as stored
    strength: int | None = None
    annotator: str | None = None  # pseudonym
    display_order: list[int] | None = None
    flags: list[str] = field(default_factory=list)
    response_flags: dict[str, list[str]] = field(default_factory=dict)
    rationale: str = ""
    duration_ms: int | None = None
    guideline_version: int | None = None
    created_at: str | None = None


@dataclass(slots=True)
class ExportReview:
    id: int
    decision: str
    note: str
    created_at: str


@dataclass(slots=True)
class ExportItem:
    id: int
    prompt: str
    messages: list[dict[str, str]] | None
    responses: list[ExportResponse]  # by position
    labels: list[ExportLabel]
    ranking: Tiers | None = None  # consensus, positions
    method: str = ""
    confidence: float | None = None
    agreement: float | None = None
    n_labels: int = 0
    n_annotations: int = 0
    review: ExportReview | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def implied_pairs(ranking: Tiers, *, ties: bool) -> list[tuple[int, int, bool]]:
    """(chosen, rejected, tie) positions for every two responses, i < j in position order;
    chosen is the one in the better tier. Tied pairs only when ``ties``."""
    tier_of = {}
    for t, tier in enumerate(ranking):
        for position in tier:
            tier_of[position] = t
    positions = sorted(tier_of)
    out = []
    for a, i in enumerate(positions):
        ti = tier_of[i]
        for j in positions[a + 1:]:
            tj = tier_of[j]
            if ti < tj:
                out.append((i, j, False))
            elif ti > tj:
                out.append((j, i, False))
            elif ties:
                out.append((i, j, True))
    return out


def count_pairs(ranking: Tiers, *, ties: bool) -> int:
    """len(implied_pairs(...)) without building them."""
    sizes = [len(tier) for tier in ranking]
    k = sum(sizes)
    tied = sum(s * (s - 1) // 2 for s in sizes)
    return k * (k - 1) // 2 - (0 if ties else tied)


def margin(labels: list[ExportLabel], chosen: int, rejected: int) -> float:
    """Strength-weighted net vote share for chosen over rejected, at least 0 (module doc)."""
    if not labels:
        return PLAIN_WEIGHT
    total = 0.0
    for label in labels:
        vote = 0
        for tier in label.tiers:
            has_chosen, has_rejected = chosen in tier, rejected in tier
            if has_chosen or has_rejected:
                vote = 0 if has_chosen and has_rejected else 1 if has_chosen else -1
                break
        if vote:
            weight = PLAIN_WEIGHT if label.strength is None else label.strength / 2
            total += vote * weight
    return max(0.0, total / len(labels))


class Format:
    """One export format; its class attributes say what the dataset must fetch for it."""

    name: ClassVar[str]
    texts: ClassVar[bool] = True  # response texts
    meta: ClassVar[bool] = False  # item meta
    details: ClassVar[bool] = False  # every field of a label
    consensus: ClassVar[bool] = True  # a consensus ranking per item

    def __init__(self, *, ties: str = "drop"):
        self.keep_ties = ties == "keep"

    def rows(self, item: ExportItem) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def count(self, item: ExportItem) -> int:
        """How many rows :meth:`rows` gives for the item (without building them)."""
        raise NotImplementedError


class PairFormat(Format):
    def count(self, item: ExportItem) -> int:
        return count_pairs(item.ranking, ties=self.keep_ties) if item.ranking else 0

    def pairs(self, item: ExportItem) -> list[tuple[int, int, bool]]:
        return implied_pairs(item.ranking, ties=self.keep_ties) if item.ranking else []


class Trl(PairFormat):
    name = "trl"

    def rows(self, item: ExportItem) -> Iterator[dict[str, Any]]:
        responses = item.responses
        conversational = item.messages is not None
        for chosen, rejected, tie in self.pairs(item):
            if conversational:
                row = {"prompt": item.messages,
                       "chosen": [{"role": "assistant", "content": responses[chosen].text}],
                       "rejected": [{"role": "assistant", "content": responses[rejected].text}]}
            else:
                row = {"prompt": item.prompt, "chosen": responses[chosen].text,
                       "rejected": responses[rejected].text}
            row["item_id"] = item.id
            row["agreement"] = item.agreement
            row["n_annotations"] = item.n_annotations
            row["margin"] = 0.0 if tie else margin(item.labels, chosen, rejected)
            if self.keep_ties:
                row["tie"] = tie
            yield row


def hh_rlhf_messages(item: ExportItem) -> list[dict[str, str]]:
    """The item's conversation in hh-rlhf's two roles (module doc)."""
    if item.messages is None:
        return [{"role": "user", "content": item.prompt}]
    return [m if m["role"] != "system" else {"role": "user", "content": m["content"]}
            for m in item.messages]


class HhRlhf(PairFormat):
    name = "hh-rlhf"
    meta = True

    def rows(self, item: ExportItem) -> Iterator[dict[str, Any]]:
        pairs = self.pairs(item)
        if not pairs:
            return
        messages = hh_rlhf_messages(item)
        responses = item.responses
        for chosen, rejected, _ in pairs:
            yield {
                "chosen": hh_rlhf_transcript(messages=messages, response=responses[chosen].text,
                                             position=chosen, meta=item.meta),
                "rejected": hh_rlhf_transcript(messages=messages,
                                               response=responses[rejected].text,
                                               position=rejected, meta=item.meta),
            }


def _by_id(entry: tuple[str, list[str]]) -> int:
    return int(entry[0])


class Annotations(Format):
    name = "annotations"
    texts = False
    details = True
    consensus = False

    def count(self, item: ExportItem) -> int:
        return len(item.labels)

    def rows(self, item: ExportItem) -> Iterator[dict[str, Any]]:
        for label in item.labels:
            yield {
                "annotation_id": label.id, "item_id": item.id, "annotator": label.annotator,
                "source": label.source, "ranking": label.ranking,
                "ranking_positions": label.tiers, "display_order": label.display_order,
                "strength": label.strength, "flags": label.flags, "rationale": label.rationale,
                "duration_ms": label.duration_ms, "guideline_version": label.guideline_version,
                "created_at": label.created_at,
                "response_flags": [{"response_id": int(rid), "flags": flags} for rid, flags
                                   in sorted(label.response_flags.items(), key=_by_id)],
            }


class Consensus(Format):
    name = "consensus"

    def count(self, item: ExportItem) -> int:
        return 1

    def rows(self, item: ExportItem) -> Iterator[dict[str, Any]]:
        responses = item.responses
        row: dict[str, Any] = {"item_id": item.id}
        if item.messages is not None:
            row["messages"] = item.messages
        else:
            row["prompt"] = item.prompt
        row["responses"] = [{"id": r.id, "position": r.position, "text": r.text,
                             "model": r.model} for r in responses]
        row["ranking"] = [[responses[p].id for p in tier] for tier in item.ranking]
        row["ranking_positions"] = item.ranking
        row["method"] = item.method
        row["confidence"] = item.confidence
        row["agreement"] = item.agreement
        row["n_labels"] = item.n_labels
        row["n_annotations"] = item.n_annotations
        review = item.review
        row["review"] = ({"decision": review.decision, "note": review.note,
                          "created_at": review.created_at} if review is not None else None)
        yield row


FORMATTERS: dict[str, type[Format]] = {
    cls.name: cls for cls in (Trl, HhRlhf, Annotations, Consensus)
}


def formatter(name: str, *, ties: str = "drop") -> Format:
    return FORMATTERS[name](ties=ties)
