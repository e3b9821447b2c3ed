"""Writers: export rows (dicts) to JSON Lines, gzip and Parquet, streaming.

Framework-free. JSON Lines are compact (``separators=(",", ":")``, UTF-8 as it is, no
``\\u`` escapes for non-ASCII text) with one encoder built once (``json.dumps`` with options
builds a new one per call); rows are joined into pieces of about :data:`CHUNK_BYTES`, the
unit a streaming HTTP answer sends. Gzip is one deflate stream over those pieces with a
fixed header (no file name, time 0), so equal rows give equal bytes.

Parquet (pyarrow) is written in record batches of :data:`PARQUET_BATCH` rows with one fixed
schema per format (:func:`schema_for`); nested values are typed columns, not JSON strings:
messages are ``list<struct<role, content>>``, rankings ``list<list<int64>>``, responses
``list<struct<id, position, text, model>>``, so ``datasets.load_dataset("parquet", ...)``
gives the same values as the JSON Lines. A ``trl`` file is conversational when any of its
rows is (a standard row is then written as one user turn and one assistant reply, TRL's
conversational form of the same pair), and has a ``tie`` column when its rows do; a JSON
Lines path is read once to decide, an iterable of rows is decided by its first row.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

CHUNK_BYTES = 64 * 1024
PARQUET_BATCH = 5000
GZIP_LEVEL = 6
READ_BYTES = 1 << 20

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def jsonl_bytes(rows: Iterable[dict[str, Any]], *,
                chunk_bytes: int | None = None) -> Iterator[bytes]:
    """Rows → JSON Lines, in pieces of about ``chunk_bytes`` (:data:`CHUNK_BYTES`; each
    piece ends with a newline)."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    pending: list[str] = []
    size = 0
    for row in rows:
        line = _encode(row)
        pending.append(line)
        size += len(line) + 1
        if size >= chunk_bytes:
            pending.append("")
            yield "\n".join(pending).encode("utf-8")
            pending, size = [], 0
    if pending:
        pending.append("")
        yield "\n".join(pending).encode("utf-8")


def gzip_bytes(chunks: Iterable[bytes], *, level: int = GZIP_LEVEL) -> Iterator[bytes]:
    """Bytes → one gzip member, streaming (RFC 1952 via zlib's gzip wrapper)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    for chunk in chunks:
        out = compressor.compress(chunk)
        if out:
            yield out
    yield compressor.flush()


def _replace_atomically(path: Path, write: Callable[[Any], None]) -> None:
    """Write to a sibling file, then rename: a reader never sees half a file."""
    path = Path(path)
    partial = path.with_name(path.name + ".part")
    try:
        with partial.open("wb") as fh:
            write(fh)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_jsonl(rows: Iterable[dict[str, Any]], path: Path, *,
                gzip: bool = False) -> tuple[str, int, int]:
    """Write rows as JSON Lines (gzip with ``gzip``) → (sha256 of the file, bytes, rows)."""
    counted = {"rows": 0}
    digest = hashlib.sha256()
    size = 0

    def counting():
        for row in rows:
            counted["rows"] += 1
            yield row

    def write(fh) -> None:
        nonlocal size
        chunks = jsonl_bytes(counting())
        for chunk in gzip_bytes(chunks) if gzip else chunks:
            fh.write(chunk)
            digest.update(chunk)
            size += len(chunk)

    _replace_atomically(Path(path), write)
    return digest.hexdigest(), size, counted["rows"]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(READ_BYTES):
            digest.update(block)
    return digest.hexdigest()


# --- Parquet -----------------------------------------------------------------------------


def schema_for(format: str, *, conversational: bool = False, ties: bool = False):
    """The pyarrow schema of a format's rows (see the module doc)."""
    import pyarrow as pa

    message = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    tiers = pa.list_(pa.list_(pa.int64()))
    if format == "trl":
        text = message if conversational else pa.string()
        columns = [("prompt", text), ("chosen", text), ("rejected", text),
                   ("item_id", pa.int64()), ("agreement", pa.float64()),
                   ("n_annotations", pa.int64()), ("margin", pa.float64())]
        if ties:
            columns.append(("tie", pa.bool_()))
    elif format == "hh-rlhf":
        columns = [("chosen", pa.string()), ("rejected", pa.string())]
    elif format == "annotations":
        columns = [("annotation_id", pa.int64()), ("item_id", pa.int64()),
                   ("annotator", pa.string()), ("source", pa.string()), ("ranking", tiers),
                   ("ranking_positions", tiers), ("display_order", pa.list_(pa.int64())),
                   ("strength", pa.int64()), ("flags", pa.list_(pa.string())),
                   ("rationale", pa.string()), ("duration_ms", pa.int64()),
                   ("guideline_version", pa.int64()), ("created_at", pa.string()),
                   ("response_flags", pa.list_(pa.struct([("response_id", pa.int64()),
                                                          ("flags", pa.list_(pa.string()))])))]
    elif format == "consensus":
        response = pa.struct([("id", pa.int64()), ("position", pa.int64()),
                              ("text", pa.string()), ("model", pa.string())])
        review = pa.struct([("decision", pa.string()), ("note", pa.string()),
                            ("created_at", pa.string())])
        columns = [("item_id", pa.int64()), ("prompt", pa.string()), ("messages", message),
                   ("responses", pa.list_(response)), ("ranking", tiers),
                   ("ranking_positions", tiers), ("method", pa.string()),
                   ("confidence", pa.float64()), ("agreement", pa.float64()),
                   ("n_labels", pa.int64()), ("n_annotations", pa.int64()), ("review", review)]
    else:
        raise ValueError(f"unknown export format {format!r}")
    return pa.schema(columns)


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with Path(path).open("rb") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _trl_shape_of_file(path: Path) -> tuple[bool, bool]:
    """(any row conversational, rows carry tie) of a trl JSON Lines file, without parsing:
    our rows begin ``{"prompt":[`` when conversational and all or none carry ``"tie":``."""
    conversational = ties = False
    with Path(path).open("rb") as fh:
        for n, line in enumerate(fh):
            if n == 0:
                ties = b',"tie":' in line
            if line.startswith(b'{"prompt":['):
                conversational = True
                break
    return conversational, ties


def as_conversational(row: dict[str, Any]) -> dict[str, Any]:
    """A standard trl row in TRL's conversational form (the same pair)."""
    if isinstance(row["prompt"], list):
        return row
    return {**row, "prompt": [{"role": "user", "content": row["prompt"]}],
            "chosen": [{"role": "assistant", "content": row["chosen"]}],
            "rejected": [{"role": "assistant", "content": row["rejected"]}]}


def write_parquet(rows_or_jsonl_path: Iterable[dict[str, Any]] | Path | str, path: Path, *,
                  format: str) -> tuple[str, int]:
    """Write the rows (or the rows of a JSON Lines file) as Parquet → (sha256, bytes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = rows_or_jsonl_path
    if isinstance(source, (str, Path)):
        shape = _trl_shape_of_file(Path(source)) if format == "trl" else (False, False)
        rows: Iterator[dict[str, Any]] = _read_jsonl(Path(source))
    else:
        rows = iter(source)
        first = next(rows, None)
        shape = (False, False)
        if first is not None:
            if format == "trl":
                shape = (isinstance(first["prompt"], list), "tie" in first)
            rows = _chain(first, rows)
    conversational, ties = shape
    schema = schema_for(format, conversational=conversational, ties=ties)

    def write(fh) -> None:
        with pq.ParquetWriter(fh, schema, compression="zstd") as writer:
            batch: list[dict[str, Any]] = []
            for row in rows:
                if conversational:
                    row = as_conversational(row)
                elif format == "trl" and isinstance(row["prompt"], list):
                    raise ValueError("a conversational trl row after standard ones: pass the "
                                     "JSON Lines file, which is read first to decide")
                batch.append(row)
                if len(batch) == PARQUET_BATCH:
                    writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=schema))
                    batch = []
            if batch:
                writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=schema))

    _replace_atomically(Path(path), write)
    return file_sha256(path), Path(path).stat().st_size


def _chain(first: dict[str, Any], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield first
    yield from rest
