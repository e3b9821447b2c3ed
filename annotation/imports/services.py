"""Importing items: read and check every line first, then write all of them in one transaction.

All-or-nothing: one bad line and nothing is written, and the answer lists every bad line.
An empty response is not a bad line: it is stored as it is and counted in the result.
Duplicates (the same prompt and the same response texts, in any order) are counted, not
stored: within the file the first occurrence wins; an item already in the project is kept
as it is.

On PostgreSQL the rows go in with ``COPY`` (ids drawn from the tables' sequences first, so
responses, gold rankings and imported labels can name them); elsewhere with ``bulk_create``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.backends.postgresql.psycopg_any import is_psycopg3
from django.utils import timezone

from rankwise.errors import Conflict, LineErrors, PayloadTooLarge, ValidationFailed
from rankwise.text import json_problem

from ..models import Annotation, Item, Project, Response
from ..prompts.models import PendingPrompt
from ..prompts.services import store_prompts
from ..services import audit
from . import formats, reader
from .formats import ItemRecord, LineError

FORMATS = tuple(formats.PARSERS)
LABELS = ("imported", "none")
PROGRESS_EVERY = 1000
HASH_QUERY_CHUNK = 5000  # SQLite allows 32766 parameters per statement
HASH_QUERY_CHUNK_PG = 50_000
ORM_BATCH = 1000


IMPORT_CONFLICT = ("Items with the same content were added to the project while this import "
                   "ran; nothing was imported. Send the file again.")


@dataclass(slots=True)
class ParsedImport:
    """The checked lines of one file: each distinct item once, with its content hash."""

    records: list[tuple[str, ItemRecord]] = field(default_factory=list)
    lines: int = 0
    duplicates: int = 0  # lines that repeat an earlier line's content


def resolve_options(*, project: Project, format: str | None,
                    labels: str | None) -> tuple[str, str]:
    """The format and labels mode of an import, checked against the project.

    ``labels`` defaults to ``imported`` for formats whose lines carry a preference.
    """
    format = format or "native"
    if format not in formats.PARSERS:
        raise ValidationFailed.of_fields({"format": f"Unknown format {format!r}; use one of "
                                         f"{', '.join(FORMATS)}."})
    if labels in (None, ""):
        labels = "imported" if formats.CARRIES_LABELS[format] else "none"
    if labels not in LABELS:
        raise ValidationFailed.of_fields({"labels": f"Unknown labels mode {labels!r}; use one of "
                                         f"{', '.join(LABELS)}."})
    fixed = formats.FIXED_K.get(format)
    if fixed is not None and fixed != project.responses_per_item:
        raise ValidationFailed.of_fields({"format": (
            f"{format} lines hold {fixed} responses, but this project ranks "
            f"{project.responses_per_item} responses per item (K). Use format native."
        )})
    return format, labels


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_decode = json.JSONDecoder(parse_constant=_reject_constant).decode
# Escapes that decode to text the database cannot store: NUL, and UTF-16 surrogate halves
# (a correct pair decodes to one character; a lone half cannot be encoded as UTF-8).
_SUSPECT_ESCAPE = re.compile(rb"\\u0000|\\u[dD][89a-fA-F]")


def _unstorable(value: Any) -> str | None:
    found = json_problem(value)
    return f"The line {found[1]}" if found else None


def parse_line(raw: bytes, *, parser: formats.Parser, k: int) -> ItemRecord:
    """One line's bytes → a record, or :class:`LineError` saying what is wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LineError(f"The line is not valid UTF-8 (byte {exc.start + 1}).") from None
    try:
        obj = _decode(text)
    except json.JSONDecodeError as exc:
        raise LineError(f"Invalid JSON: {exc.msg}: column {exc.colno}.") from None
    except ValueError as exc:
        raise LineError(f"Invalid JSON: {exc}.") from None
    except RecursionError:
        raise LineError("Invalid JSON: nested too deeply.") from None
    if _SUSPECT_ESCAPE.search(raw):
        problem = _unstorable(obj)
        if problem:
            raise LineError(problem)
    return parser(obj, k=k)


def parse_lines(lines: Iterable[tuple[int, bytes]], *, format: str, k: int,
                on_progress: Callable[[int], None] | None = None) -> ParsedImport:
    """Check every line; raise :class:`LineErrors` naming each bad one, else the records."""
    parser = formats.PARSERS[format]
    parsed = ParsedImport()
    seen: set[str] = set()
    errors: list[dict[str, Any]] = []
    n_errors = 0
    since_progress = 0
    for number, raw in lines:
        parsed.lines += 1
        since_progress += 1
        if on_progress is not None and since_progress == PROGRESS_EVERY:
            on_progress(since_progress)
            since_progress = 0
        try:
            record = parse_line(raw, parser=parser, k=k)
        except LineError as exc:
            n_errors += 1
            if len(errors) < settings.IMPORT_MAX_ERRORS:
                errors.append({"line": number, "message": str(exc)})
            if n_errors == 1:  # nothing will be written: stop holding records
                parsed.records.clear()
                seen.clear()
            continue
        if n_errors:
            continue
        content_hash = record.content_hash
        if content_hash in seen:
            parsed.duplicates += 1
            continue
        seen.add(content_hash)
        parsed.records.append((content_hash, record))
    if on_progress is not None and since_progress:
        on_progress(since_progress)
    if n_errors:
        noun = "line is" if n_errors == 1 else "lines are"
        raise LineErrors(f"{n_errors} {noun} invalid; nothing was imported.", errors)
    if not parsed.lines:
        raise ValidationFailed.of_fields({"file": "There are no lines to import."})
    return parsed


def parse_source(*, source: BinaryIO, format: str, k: int,
                 on_progress: Callable[[int], None] | None = None) -> ParsedImport:
    """Read JSON Lines (gzip or not) from a byte stream within the configured limits."""
    lines = reader.iter_lines(source, max_bytes=settings.IMPORT_MAX_BYTES,
                              max_lines=settings.IMPORT_MAX_LINES,
                              max_line_bytes=settings.IMPORT_MAX_LINE_BYTES)
    try:
        return parse_lines(lines, format=format, k=k, on_progress=on_progress)
    except reader.InputTooLarge as exc:
        raise PayloadTooLarge(f"{exc} Split the file or raise RANKWISE_IMPORT_MAX_BYTES.") from exc
    except reader.LineTooLong as exc:
        raise PayloadTooLarge(
            f"{exc} Nothing was imported; raise RANKWISE_IMPORT_MAX_LINE_BYTES for longer items.",
            errors=[{"line": exc.line, "message": str(exc)}]) from exc
    except reader.TooManyLines as exc:
        raise ValidationFailed.of_fields(
            {"file": f"{exc} Split the file or raise RANKWISE_IMPORT_MAX_LINES."}
        ) from exc
    except reader.BadGzip as exc:
        raise ValidationFailed.of_fields({"file": str(exc)}) from exc


def import_items(*, actor, project: Project, source: BinaryIO, format: str,
                 labels: str | None = None,
                 on_progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Import a JSON Lines stream into the project: all lines or none.

    Returns ``{"created", "prompts", "duplicates", "imported_labels", "gold",
    "empty_responses"}`` (``prompts``: prompts stored alone by format ``prompts``);
    ``empty_responses`` counts the stored responses with no visible text (the empty string
    or whitespace only), which are imported as they are.
    """
    format, labels = resolve_options(project=project, format=format, labels=labels)
    parsed = parse_source(source=source, format=format, k=project.responses_per_item,
                          on_progress=on_progress)
    return write_items(actor=actor, project=project, parsed=parsed, format=format, labels=labels)


def write_items(*, actor, project: Project, parsed: ParsedImport, format: str,
                labels: str) -> dict[str, int]:
    """Store checked records in one transaction, skipping those already in the project."""
    try:
        with transaction.atomic():
            # Imports into one project queue here, so the second sees the first's items
            # as duplicates instead of failing on the unique (project, content_hash).
            Project.objects.select_for_update().filter(pk=project.pk).first()
            existing = _existing_hashes(
                project=project, hashes=[h for h, _ in parsed.records],
                model=PendingPrompt if format in formats.PROMPTS_ONLY else Item)
            fresh = [(h, record) for h, record in parsed.records if h not in existing]
            if format in formats.PROMPTS_ONLY:
                n_labels, n_gold = 0, 0
                store_prompts(project=project, records=fresh)
            elif connection.vendor == "postgresql" and is_psycopg3:
                n_labels, n_gold = _copy_items(project=project, records=fresh,
                                               store_labels=labels == "imported")
            else:
                n_labels, n_gold = _create_items(project=project, records=fresh,
                                                 store_labels=labels == "imported")
            prompts_only = format in formats.PROMPTS_ONLY
            result = {
                "created": 0 if prompts_only else len(fresh),
                "prompts": len(fresh) if prompts_only else 0,
                "duplicates": parsed.duplicates + len(parsed.records) - len(fresh),
                "imported_labels": n_labels,
                "gold": n_gold,
                "empty_responses": sum(record.empty_responses for _, record in fresh),
            }
            audit(actor=actor, action="items.import", project=project, target=project,
                  format=format, labels=labels, lines=parsed.lines, **result)
    except IntegrityError as exc:
        # Only a writer outside this import path (which does not take the project lock)
        # can add the same content between our check and our insert.
        raise Conflict(IMPORT_CONFLICT, code="conflict") from exc
    return result


def _existing_hashes(*, project: Project, hashes: list[str], model=Item) -> set[str]:
    if not hashes or not model.objects.filter(project=project).exists():
        return set()
    found: set[str] = set()
    if connection.vendor == "postgresql":
        # One array parameter per query: planning a query with thousands of IN parameters
        # costs more than running it.
        with connection.cursor() as cursor:
            for start in range(0, len(hashes), HASH_QUERY_CHUNK_PG):
                cursor.execute(
                    f"SELECT content_hash FROM {model._meta.db_table} "
                    "WHERE project_id = %s AND content_hash = ANY(%s)",
                    [project.pk, hashes[start:start + HASH_QUERY_CHUNK_PG]],
                )
                found.update(row[0] for row in cursor.fetchall())
        return found
    for start in range(0, len(hashes), HASH_QUERY_CHUNK):
        chunk = hashes[start:start + HASH_QUERY_CHUNK]
        found.update(
            model.objects.filter(project=project, content_hash__in=chunk)
            .values_list("content_hash", flat=True)
        )
    return found


def _by_id(tiers: list[list[int]], response_ids: list[int]) -> list[list[int]]:
    return [[response_ids[position] for position in tier] for tier in tiers]


def _create_items(*, project: Project, records: list[tuple[str, ItemRecord]],
                  store_labels: bool) -> tuple[int, int]:
    """The portable path: bulk_create, which returns ids on SQLite ≥ 3.35 and PostgreSQL."""
    items = [
        Item(project=project, prompt=record.prompt or "", messages=record.messages,
             content_hash=content_hash, meta=record.meta,
             imported_labels=1 if store_labels and record.preference else 0)
        for content_hash, record in records
    ]
    Item.objects.bulk_create(items, batch_size=ORM_BATCH)
    responses = [
        Response(item_id=item.pk, position=position, text=response.text, model=response.model,
                 external_id=response.external_id)
        for item, (_, record) in zip(items, records, strict=True)
        for position, response in enumerate(record.responses)
    ]
    Response.objects.bulk_create(responses, batch_size=ORM_BATCH)
    gold_items, annotations = [], []
    offset = 0
    for item, (_, record) in zip(items, records, strict=True):
        response_ids = [r.pk for r in responses[offset:offset + len(record.responses)]]
        offset += len(record.responses)
        if record.gold is not None:
            # Gold rankings name response ids, which exist only now; the check constraint
            # (gold needs a ranking) is why the flag is set in the same update.
            item.is_gold = True
            item.gold_ranking = _by_id(record.gold, response_ids)
            gold_items.append(item)
        if store_labels and record.preference:
            annotations.append(Annotation(
                project=project, item_id=item.pk, source=Annotation.Source.IMPORT,
                ranking=_by_id(record.preference, response_ids),
            ))
    Item.objects.bulk_update(gold_items, ["is_gold", "gold_ranking"], batch_size=ORM_BATCH)
    Annotation.objects.bulk_create(annotations, batch_size=ORM_BATCH)
    return len(annotations), len(gold_items)


def _next_ids(model, n: int) -> list[int]:
    """n fresh primary keys from the table's own sequence, as the table's default would."""
    if n == 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, n],
        )
        return [row[0] for row in cursor.fetchall()]


def _copy_rows(cursor, model, names: list[str], rows: Iterable[tuple], now) -> None:
    """COPY rows giving the named fields; every other column gets the field's default."""
    fields = [model._meta.get_field(name) for name in names]
    given = {f.column for f in fields}
    rest = [f for f in model._meta.concrete_fields if f.column not in given and not f.primary_key]
    tail = tuple(
        now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        else f.get_db_prep_save(f.get_default(), connection)
        for f in rest
    )
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in [*fields, *rest])
    sql = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    # The raw psycopg cursor bypasses Django's error translation; this restores it, so a
    # unique violation is an IntegrityError like anywhere else.
    with connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row + tail)


def _copy_items(*, project: Project, records: list[tuple[str, ItemRecord]],
                store_labels: bool) -> tuple[int, int]:
    """The PostgreSQL path: ids from the sequences, then one COPY per table."""
    if not records:
        return 0, 0
    now = timezone.now()
    dumps = json.dumps
    item_ids = _next_ids(Item, len(records))
    # Response ids are drawn ahead only when a gold ranking or a label must name them;
    # otherwise the table's own default numbers them during the COPY.
    name_responses = any(record.gold is not None or (store_labels and record.preference)
                         for _, record in records)
    n_responses = sum(len(record.responses) for _, record in records)
    response_ids = _next_ids(Response, n_responses) if name_responses else []
    item_rows, response_rows, annotation_rows = [], [], []
    n_gold = 0
    offset = 0
    ids: list[int] = []
    for item_id, (content_hash, record) in zip(item_ids, records, strict=True):
        if name_responses:
            ids = response_ids[offset:offset + len(record.responses)]
            offset += len(record.responses)
            response_rows.extend(
                (response_id, item_id, position, response.text, response.model,
                 response.external_id)
                for position, (response_id, response)
                in enumerate(zip(ids, record.responses, strict=True))
            )
        else:
            response_rows.extend(
                (item_id, position, response.text, response.model, response.external_id)
                for position, response in enumerate(record.responses)
            )
        labelled = store_labels and bool(record.preference)
        if labelled:
            annotation_rows.append((project.pk, item_id, Annotation.Source.IMPORT.value,
                                    dumps(_by_id(record.preference, ids)), now))
        gold = None
        if record.gold is not None:
            gold = dumps(_by_id(record.gold, ids))
            n_gold += 1
        item_rows.append((
            item_id, project.pk, record.prompt or "",
            dumps(record.messages) if record.messages is not None else None,
            content_hash, dumps(record.meta), gold is not None, gold, int(labelled), now,
        ))
    response_fields = ["item", "position", "text", "model", "external_id"]
    with connection.cursor() as cursor:
        _copy_rows(cursor, Item, ["id", "project", "prompt", "messages", "content_hash", "meta",
                                  "is_gold", "gold_ranking", "imported_labels", "created_at"],
                   item_rows, now)
        _copy_rows(cursor, Response, ["id", *response_fields] if name_responses
                   else response_fields, response_rows, now)
        _copy_rows(cursor, Annotation, ["project", "item", "source", "ranking", "created_at"],
                   annotation_rows, now)
    return len(annotation_rows), n_gold
