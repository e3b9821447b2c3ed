"""Reading JSON Lines from bytes: line numbers, gzip by magic bytes, limits while streaming."""

from __future__ import annotations

import gzip
import io

import pytest

from annotation.imports import reader

BIG = 1 << 40


def lines(data: bytes, chunk_bytes: int = 4, **limits):
    limits = {"max_bytes": BIG, "max_lines": BIG, **limits}
    return list(reader.iter_lines(io.BytesIO(data), chunk_bytes=chunk_bytes, **limits))


def test_numbers_count_blank_lines_and_lines_span_chunks():
    data = b'{"a": 1}\n\n   \n{"b": 22222}\r\n{"c": 3}'
    assert lines(data) == [(1, b'{"a": 1}'), (4, b'{"b": 22222}'), (5, b'{"c": 3}')]
    assert lines(data, chunk_bytes=1 << 20) == lines(data)


def test_byte_order_mark_is_dropped():
    assert lines(b'\xef\xbb\xbf{"a": 1}\n', chunk_bytes=2) == [(1, b'{"a": 1}')]


def test_gzip_is_recognised_by_magic_bytes_also_multi_member():
    data = gzip.compress(b"one\n") + gzip.compress(b"two\n")
    assert lines(data) == [(1, b"one"), (2, b"two")]


@pytest.mark.parametrize("data", [b"", b"\x1f", b"x"])
def test_tiny_inputs(data):
    assert lines(data) == ([(1, b"x")] if data == b"x" else
                           [(1, b"\x1f")] if data == b"\x1f" else [])


def test_corrupt_gzip():
    with pytest.raises(reader.BadGzip):
        lines(gzip.compress(b"a\n" * 1000)[:30])


def test_byte_limit_counts_decompressed_bytes_and_stops_early():
    class Counting(io.BytesIO):
        consumed = 0

        def read(self, size=-1):
            chunk = super().read(size)
            Counting.consumed += len(chunk)
            return chunk

    bomb = gzip.compress(b"\n" * (32 * 1024 * 1024), compresslevel=9)
    source = Counting(bomb)
    with pytest.raises(reader.InputTooLarge):
        list(reader.iter_lines(source, max_bytes=1 << 20, max_lines=BIG, chunk_bytes=1 << 16))
    assert Counting.consumed < len(bomb) / 2  # stopped long before the end of the input
    with pytest.raises(reader.InputTooLarge):
        lines(b"a\n" * 10, max_bytes=19)
    assert len(lines(b"a\n" * 10, max_bytes=20)) == 10


def test_line_limit_counts_non_blank_lines():
    assert len(lines(b"a\n\n\nb\n", max_lines=2)) == 2
    with pytest.raises(reader.TooManyLines):
        lines(b"a\nb\nc", max_lines=2)
