"""The parameters of one export, as a type: parsed once from a query string (or a stored
snapshot's JSON), checked strictly, read through attributes.

Framework-free: a query is any ``Mapping[str, str]`` (Django's ``QueryDict`` included, whose
repeated keys are read with ``getlist``); :func:`parse_params` raises one
:class:`~rankwise.errors.ValidationFailed` naming every bad parameter. Parameters it does not
know are ignored, as everywhere in the API (``compress``, ``preview`` and a client's own
cache-busters pass through); an empty value means "not given", as HTML forms send it.

Parameters (README "Export"):

``format``
    ``trl`` (default) | ``hh-rlhf`` | ``annotations`` | ``consensus``.
``min_agreement``
    0..1: only items whose agreement (the share of pair votes equal to the majority, over the
    item's non-imported labels) is at least this. Items without an agreement figure (fewer
    than two such labels) are left out when it is given.
``min_annotations``
    only items with at least this many non-imported labels (``n_annotations``).
``include_gold``
    ``true`` keeps gold items (quality checks; left out by default, as training does).
``annotators``
    comma-separated user ids (or the key repeated): only their labels count.
``guideline_version``
    only labels made under this guideline version.
``since``
    ISO 8601 date or date-time: only labels made at or after it (a naive time is UTC).
``consensus``
    ``majority`` | ``bradley_terry`` | ``dawid_skene``; unset: the project's setting.
``ties``
    ``drop`` (default) | ``keep``: whether tied pairs are written by the pair formats.
``source``
    ``human`` | ``import`` | ``ai``; unset: human and imported labels (AI labels only when
    asked for, never mixed with people's).
``split``, ``split_seed``, ``test_size``
    ``train`` | ``test``: a seeded split by item. An item is in the test split when
    ``sha256(f"{split_seed}:{content_hash}")``, read as a fraction of 2**64 from its first 16
    hex digits, is below ``test_size`` (default 0.1). By content hash, not by position in a
    list: an item keeps its side whatever else is exported, as the project grows, and in
    any project the same item is imported into, so train and test never share an item.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, time
from typing import Any

from rankwise.errors import ValidationFailed

from ..project_settings import CONSENSUS_METHODS

FORMATS = ("trl", "hh-rlhf", "annotations", "consensus")
TIES = ("drop", "keep")
SOURCES = ("human", "import", "ai")
SPLITS = ("train", "test")
DEFAULT_SOURCES = ("human", "import")
MAX_ID = 2**63 - 1  # a bigint primary key
MAX_VERSION = 2**31 - 1  # a PositiveIntegerField
MAX_ANNOTATORS = 1000
_UNENCODED_OFFSET = re.compile(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class ExportParams:
    format: str = "trl"
    min_agreement: float | None = None
    min_annotations: int | None = None
    include_gold: bool = False
    annotators: tuple[int, ...] | None = None
    guideline_version: int | None = None
    since: datetime | None = None
    consensus: str | None = None
    ties: str = "drop"
    source: str | None = None
    split: str | None = None
    split_seed: int = 0
    test_size: float = 0.1

    @property
    def sources(self) -> tuple[str, ...]:
        """The label sources the export reads."""
        return (self.source,) if self.source else DEFAULT_SOURCES

    @property
    def scopes_labels(self) -> bool:
        """Whether a filter picks some of an item's labels (whose labels count), so that an
        item without a picked label has nothing to say, whatever a reviewer decided."""
        return (self.annotators is not None or self.guideline_version is not None
                or self.since is not None)

    def in_split(self, content_hash: str) -> bool:
        """Whether an item with this content hash belongs to the asked-for split (always
        true without one); see the module doc for the rule."""
        if self.split is None:
            return True
        digest = hashlib.sha256(f"{self.split_seed}:{content_hash}".encode()).hexdigest()
        is_test = int(digest[:16], 16) / 2**64 < self.test_size
        return is_test == (self.split == "test")

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe: every parameter, ``since`` as ISO 8601, ``annotators`` a list."""
        data = asdict(self)
        data["annotators"] = list(self.annotators) if self.annotators is not None else None
        data["since"] = self.since.isoformat() if self.since is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExportParams:
        """The inverse of :meth:`as_dict` (values may also be query strings); unknown keys
        and bad values raise :class:`ValidationFailed` as :func:`parse_params` does."""
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValidationFailed.of_fields({key: "unknown export parameter" for key in unknown})
        return _build(data)


def parse_params(query: Mapping[str, Any]) -> ExportParams:
    """Export parameters from a query string; raises ValidationFailed naming each bad one."""
    values: dict[str, Any] = {}
    for f in fields(ExportParams):
        if f.name not in query:
            continue
        if f.name == "annotators" and hasattr(query, "getlist"):
            given = [v for v in query.getlist(f.name) if v != ""]
            value: Any = ",".join(given)
        else:
            value = query[f.name]
        if value not in ("", None):
            values[f.name] = value
    return _build(values)


def _build(values: Mapping[str, Any]) -> ExportParams:
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        try:
            out[name] = PARSERS[name](value)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise ValidationFailed.of_fields(errors, detail="Invalid export parameters: "
                                         + ", ".join(errors) + ".")
    return ExportParams(**out)


# --- one parser per parameter: a value (string or JSON) in, the typed value or ValueError ---


def _choice(options: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise ValueError(f"must be one of {', '.join(options)}; got {_shown(value)}.")
        return value
    return parse


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError("must be an integer.")
        if isinstance(value, str):
            text = value.strip()
            if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 20:
                raise ValueError(f"must be an integer; got {_shown(value)}.")
            value = int(text)
        if not isinstance(value, int):
            raise ValueError("must be an integer.")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}.")
        return value
    return parse


def _fraction(*, open_ends: bool) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError("must be a number.")
        try:
            number = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise ValueError(f"must be a number; got {_shown(value)}.") from None
        inside = 0 < number < 1 if open_ends else 0 <= number <= 1
        if not inside:  # NaN fails both comparisons
            raise ValueError("must be between 0 and 1" + (" (exclusive)." if open_ends else "."))
        return number
    return parse


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f"must be true or false; got {_shown(value)}.")


def _annotators(value: Any) -> tuple[int, ...]:
    parts = value if isinstance(value, (list, tuple)) else str(value).split(",")
    parse = _integer(1, MAX_ID)
    ids = []
    for part in parts:
        if isinstance(part, str) and not part.strip():
            raise ValueError("user ids separated by commas, e.g. 3,17; one is empty.")
        try:
            ids.append(parse(part))
        except ValueError:
            raise ValueError(f"user ids separated by commas, e.g. 3,17; {_shown(part)} is "
                             "not one.") from None
    if not ids:
        raise ValueError("name at least one user id.")
    if len(ids) > MAX_ANNOTATORS:
        raise ValueError(f"name at most {MAX_ANNOTATORS} annotators.")
    return tuple(sorted(set(ids)))


def _since(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        # An unencoded "+02:00" in a URL arrives as " 02:00".
        text = _UNENCODED_OFFSET.sub(r"\1+\2", str(value).strip())
        try:
            moment = (datetime.combine(date.fromisoformat(text), time()) if len(text) == 10
                      else datetime.fromisoformat(text))
        except ValueError:
            raise ValueError("must be an ISO 8601 date or date-time, e.g. 2025-01-31 or "
                             f"2025-01-31T12:00:00Z; got {_shown(value)}.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


PARSERS: dict[str, Callable[[Any], Any]] = {
    "format": _choice(FORMATS),
    "min_agreement": _fraction(open_ends=False),
    "min_annotations": _integer(0, 1_000_000),
    "include_gold": _boolean,
    "annotators": _annotators,
    "guideline_version": _integer(1, MAX_VERSION),
    "since": _since,
    "consensus": _choice(CONSENSUS_METHODS),
    "ties": _choice(TIES),
    "source": _choice(SOURCES),
    "split": _choice(SPLITS),
    "split_seed": _integer(0, MAX_ID),
    "test_size": _fraction(open_ends=True),
}
