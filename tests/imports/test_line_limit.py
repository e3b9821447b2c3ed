"""One huge line is refused while it streams: never held whole, never half imported."""

from __future__ import annotations

import io

import pytest

from annotation.imports import reader

from .conftest import counts, gz, jsonl


class Endless(io.RawIOBase):
    """An unbounded stream of one line that never ends, counting what was read."""

    def __init__(self, head: bytes = b""):
        self.head = head
        self.served = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        data = (self.head + b"x" * len(buffer))[:len(buffer)]
        self.head = self.head[len(data):]
        buffer[:len(data)] = data
        self.served += len(data)
        return len(data)


def test_a_line_past_the_bound_stops_the_read_at_once():
    stream = Endless(b'{"ok": 1}\n')
    with pytest.raises(reader.LineTooLong) as caught:
        for _ in reader.iter_lines(io.BufferedReader(stream, 1 << 16), max_bytes=1 << 40,
                                   max_lines=10, max_line_bytes=1 << 20, chunk_bytes=1 << 16):
            pass
    assert caught.value.line == 2
    # It stopped within a chunk or two of the bound, not at the end of a 1 TiB line.
    assert stream.served < (1 << 20) + 3 * (1 << 16)


@pytest.mark.parametrize("chunk_bytes", [7, 1 << 16])
def test_lines_up_to_the_bound_pass_and_one_over_fails(chunk_bytes):
    data = b"a" * 100 + b"\n" + b"b" * 100 + b"\n"
    assert [n for n, _ in reader.iter_lines(io.BytesIO(data), max_bytes=1000, max_lines=10,
                                            max_line_bytes=100, chunk_bytes=chunk_bytes)] == [1, 2]
    with pytest.raises(reader.LineTooLong) as caught:
        list(reader.iter_lines(io.BytesIO(data + b"c" * 101 + b"\n"), max_bytes=1000,
                               max_lines=10, max_line_bytes=100, chunk_bytes=chunk_bytes))
    assert caught.value.line == 3


def test_no_bound_means_any_length():
    data = b"z" * 5000
    assert list(reader.iter_lines(io.BytesIO(data), max_bytes=10_000, max_lines=1,
                                  chunk_bytes=64)) == [(1, data)]


@pytest.mark.parametrize("compress", [False, True])
def test_the_api_answers_413_naming_the_line_and_imports_nothing(
        project_with_roles, post_import, settings, compress):
    project, _ = project_with_roles
    settings.IMPORT_MAX_LINE_BYTES = 2000
    body = jsonl({"prompt": "short", "responses": ["a", "b"]},
                 {"prompt": "long " * 1000, "responses": ["a", "b"]})
    answer = post_import(project, gz(body) if compress else body)
    assert answer.status_code == 413
    assert answer.json()["errors"] == [
        {"line": 2, "message": "Line 2 is longer than 2,000 bytes."}]
    assert "RANKWISE_IMPORT_MAX_LINE_BYTES" in answer.json()["detail"]
    assert counts(project) == {"items": 0, "responses": 0, "annotations": 0}
