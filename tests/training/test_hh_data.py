"""The benchmarks read hh-rlhf through the import parser: what it refuses, they skip."""

from __future__ import annotations

import gzip
import json

import pytest

pytest.importorskip("torch")

from benchmarks.reward_data import hh_comparisons  # noqa: E402


def _write(path, rows):
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return path


def test_a_pair_becomes_a_flattened_prompt_and_two_ranked_responses(tmp_path):
    path = _write(tmp_path / "hh.jsonl.gz", [
        {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello!", "rejected": "\n\nHuman: Hi\n\nAssistant: Go."},
    ])
    [c] = hh_comparisons(path)
    assert (c.item_id, c.prompt, c.responses, c.ranking) == (0, "User: Hi", ["Hello!", "Go."],
                                                             [[0], [1]])


def test_lines_the_import_refuses_or_without_a_preference_are_skipped(tmp_path):
    same = "\n\nHuman: Hi\n\nAssistant: Same."
    path = _write(tmp_path / "hh.jsonl.gz", [
        # No Assistant marker in the shared part: the import cannot tell prompt from responses.
        {"chosen": "\n\nHuman: Tell me a joke", "rejected": "\n\nHuman: Tell me a riddle"},
        {"chosen": same, "rejected": same},  # a tie says nothing
        {"chosen": "\n\nHuman: A\n\nAssistant: yes", "rejected": "\n\nHuman: A\n\nAssistant: no"},
    ])
    assert [(c.item_id, c.responses) for c in hh_comparisons(path)] == [(2, ["yes", "no"])]
    assert hh_comparisons(path, limit=2) == []


def test_the_shared_hh_rlhf_file_reads_every_pair(hh_rlhf_path):
    comparisons = hh_comparisons(hh_rlhf_path)
    assert len(comparisons) == 2312
    assert all(c.prompt.startswith("User: ") and c.ranking == [[0], [1]] for c in comparisons)
