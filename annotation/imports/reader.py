"""Reading JSON Lines from a byte stream, gzip or not, within size and line limits.

Framework-free: the caller passes the limits and turns the exceptions into HTTP answers.
Gzip is recognised by its magic bytes, never by a file name or a header, and the byte limit
applies to the decompressed data as it is produced, so a small gzip bomb stops after
``max_bytes`` of output instead of filling memory.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
CHUNK_BYTES = 1 << 20


class InputTooLarge(Exception):
    def __init__(self, max_bytes: int):
        super().__init__(f"The data is larger than {max_bytes:,} bytes (after decompression).")
        self.max_bytes = max_bytes


class TooManyLines(Exception):
    def __init__(self, max_lines: int):
        super().__init__(f"The data has more than {max_lines:,} lines.")
        self.max_lines = max_lines


class LineTooLong(Exception):
    def __init__(self, line: int, max_line_bytes: int):
        super().__init__(f"Line {line} is longer than {max_line_bytes:,} bytes.")
        self.line = line
        self.max_line_bytes = max_line_bytes


class BadGzip(Exception):
    def __init__(self, reason: str):
        super().__init__(f"The data starts like gzip but cannot be decompressed: {reason}.")


class _Prepended:
    """A readable stream with some already-read bytes put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0:
                data, self._head = self._head + self._rest.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._rest.read(size)


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def decompressed_chunks(source: BinaryIO, *, max_bytes: int,
                        chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The source's bytes, gunzipped when they start with the gzip magic, in chunks."""
    head = _read_exactly(source, len(GZIP_MAGIC))
    stream: BinaryIO = _Prepended(head, source)  # type: ignore[assignment]
    if head == GZIP_MAGIC:
        stream = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
    total = 0
    while True:
        try:
            # GzipFile.read(n) returns at most n bytes of output, whatever the ratio.
            chunk = stream.read(chunk_bytes)
        except (OSError, EOFError, zlib.error) as exc:
            raise BadGzip(str(exc) or type(exc).__name__) from exc
        if not chunk:
            return
        total += len(chunk)
        if total > max_bytes:
            raise InputTooLarge(max_bytes)
        yield chunk


def iter_lines(source: BinaryIO, *, max_bytes: int, max_lines: int,
               max_line_bytes: int | None = None,
               chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[int, bytes]]:
    """(line number, line) for every non-blank line; numbers count blank lines too.

    Lines end at ``\\n``; a ``\\r`` before it and a UTF-8 byte order mark at the start are
    dropped. More than ``max_lines`` non-blank lines raise :class:`TooManyLines`; a line
    longer than ``max_line_bytes`` raises :class:`LineTooLong` as soon as it is that long,
    so one huge line is never held whole.
    """
    number = 0
    kept = 0
    # The unfinished last line, in parts: one long line over many chunks is joined once.
    pending: list[bytes] = []
    pending_bytes = 0
    for chunk in decompressed_chunks(source, max_bytes=max_bytes, chunk_bytes=chunk_bytes):
        pending.append(chunk)
        pending_bytes += len(chunk)
        if b"\n" not in chunk:
            if max_line_bytes is not None and pending_bytes > max_line_bytes:
                raise LineTooLong(number + 1, max_line_bytes)
            continue
        pieces = b"".join(pending).split(b"\n")
        pending = [pieces.pop()]
        pending_bytes = len(pending[0])
        if max_line_bytes is not None and pending_bytes > max_line_bytes:
            raise LineTooLong(number + len(pieces) + 1, max_line_bytes)
        for line in pieces:
            number += 1
            if max_line_bytes is not None and len(line) > max_line_bytes:
                raise LineTooLong(number, max_line_bytes)
            if line.endswith(b"\r"):
                line = line[:-1]
            if number == 1 and line.startswith(UTF8_BOM):
                line = line[len(UTF8_BOM):]
            if line.strip():
                kept += 1
                if kept > max_lines:
                    raise TooManyLines(max_lines)
                yield number, line
    number += 1
    last = b"".join(pending)
    if last.endswith(b"\r"):
        last = last[:-1]
    if number == 1 and last.startswith(UTF8_BOM):
        last = last[len(UTF8_BOM):]
    if last.strip():
        kept += 1
        if kept > max_lines:
            raise TooManyLines(max_lines)
        yield number, last
