"""Export formats, parameters and writers as plain functions: no database."""

from __future__ import annotations

import gzip
import itertools
import json
import random
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from annotation.exports import formats, writers
from annotation.exports.formats import ExportItem, ExportLabel, ExportResponse, ExportReview
from annotation.exports.params import ExportParams, parse_params
from annotation.imports.formats import parse_hh_rlhf, parse_trl
from rankwise.errors import ValidationFailed


def random_tiers(rng: random.Random, k: int) -> list[list[int]]:
    order = list(range(k))
    rng.shuffle(order)
    tiers, tier = [], []
    for position in order:
        tier.append(position)
        if rng.random() < 0.6:
            tiers.append(tier)
            tier = []
    return tiers + ([tier] if tier else [])


def item(texts, ranking, *, labels=None, messages=None, prompt="Why?", **fields) -> ExportItem:
    return ExportItem(id=fields.pop("id", 7), prompt=prompt, messages=messages,
                      responses=[ExportResponse(id=100 + p, position=p, text=t, model="")
                                 for p, t in enumerate(texts)],
                      labels=labels if labels is not None else [
                          ExportLabel(id=1, source="human", tiers=ranking)],
                      ranking=ranking, **fields)


# --- pairs and margins ---------------------------------------------------------------------

@pytest.mark.parametrize("k", [2, 3, 4, 6, 9])
def test_implied_pairs_are_every_two_responses_in_different_tiers(k):
    rng = random.Random(k)
    for _ in range(50):
        ranking = random_tiers(rng, k)
        tier_of = {p: t for t, tier in enumerate(ranking) for p in tier}
        strict = {(a, b) for a, b in itertools.permutations(range(k), 2)
                  if tier_of[a] < tier_of[b]}
        tied = {(a, b) for a, b in itertools.combinations(range(k), 2)
                if tier_of[a] == tier_of[b]}
        dropped = formats.implied_pairs(ranking, ties=False)
        kept = formats.implied_pairs(ranking, ties=True)
        assert {(a, b) for a, b, _ in dropped} == strict and len(dropped) == len(strict)
        assert {(a, b) for a, b, tie in kept if tie} == tied
        assert formats.count_pairs(ranking, ties=False) == len(strict)
        assert formats.count_pairs(ranking, ties=True) == k * (k - 1) // 2
        # in position order of the unordered pair
        assert [tuple(sorted(p[:2])) for p in kept] == list(itertools.combinations(range(k), 2))


def test_k4_strict_ranking_is_six_pairs():
    assert formats.implied_pairs([[2], [0], [3], [1]], ties=False) == [
        (0, 1, False), (2, 0, False), (0, 3, False), (2, 1, False), (3, 1, False), (2, 3, False)]


def votes(*tiers_and_strengths):
    return [ExportLabel(id=n, source="human", tiers=tiers, strength=strength)
            for n, (tiers, strength) in enumerate(tiers_and_strengths)]


def test_margin_is_the_strength_weighted_net_vote_share():
    win, lose, tie = [[0], [1]], [[1], [0]], [[0, 1]]
    assert formats.margin(votes((win, None), (win, None)), 0, 1) == 1.0
    assert formats.margin(votes((win, 3), (win, 3)), 0, 1) == 1.5
    assert formats.margin(votes((win, 1)), 0, 1) == 0.5
    assert formats.margin(votes((win, None), (win, None), (lose, None)), 0, 1) == pytest.approx(1 / 3)
    assert formats.margin(votes((win, None), (tie, None)), 0, 1) == 0.5
    assert formats.margin(votes((lose, 3), (win, 1)), 0, 1) == 0.0  # never negative
    assert formats.margin([], 0, 1) == 1.0  # a review with no counted label
    k3 = votes(([[2], [0, 1]], None))
    assert (formats.margin(k3, 2, 0), formats.margin(k3, 0, 1)) == (1.0, 0.0)


# --- rows ----------------------------------------------------------------------------------

def test_trl_standard_conversational_and_ties():
    trl = formats.formatter("trl")
    rows = list(trl.rows(item(["good", "bad"], [[0], [1]], agreement=0.75, n_annotations=4)))
    assert rows == [{"prompt": "Why?", "chosen": "good", "rejected": "bad", "item_id": 7,
                     "agreement": 0.75, "n_annotations": 4, "margin": 1.0}]
    chat = [{"role": "user", "content": "Hi"}]
    row = next(trl.rows(item(["a", "b"], [[1], [0]], messages=chat)))
    assert (row["prompt"], row["chosen"], row["rejected"]) == (
        chat, [{"role": "assistant", "content": "b"}], [{"role": "assistant", "content": "a"}])
    tied = item(["a", "b", "c"], [[0, 1], [2]])
    assert [r.get("tie") for r in trl.rows(tied)] == [None, None]
    kept = list(formats.formatter("trl", ties="keep").rows(tied))
    assert [(r["chosen"], r["rejected"], r["tie"]) for r in kept] == [
        ("a", "b", True), ("a", "c", False), ("b", "c", False)]
    assert trl.count(tied) == 2 and formats.formatter("trl", ties="keep").count(tied) == 3


def test_trl_rows_parse_back_with_our_trl_import():
    trl = formats.formatter("trl")
    for messages in (None, [{"role": "system", "content": "S"}, {"role": "user", "content": "U"},
                            {"role": "assistant", "content": "A"}, {"role": "user", "content": "2"}]):
        row = next(trl.rows(item(["first", "second"], [[1], [0]], messages=messages)))
        record = parse_trl(row)
        assert (record.prompt, record.messages) == ((None, messages) if messages else ("Why?", None))
        assert [r.text for r in record.responses] == ["second", "first"]
        assert record.preference == [[0], [1]]


def test_hh_rlhf_is_the_inverse_of_the_import():
    original = {"chosen": "Human: hi\n\nAssistant:  Hello there",
                "rejected": "Human: hi\n\nAssistant:\nGo away"}
    record = parse_hh_rlhf(original)
    exported = item([r.text for r in record.responses], [[0], [1]], messages=record.messages,
                    meta=record.meta)
    assert list(formats.formatter("hh-rlhf").rows(exported)) == [original]
    flipped = item([r.text for r in record.responses], [[1], [0]], messages=record.messages,
                   meta=record.meta)
    row = next(formats.formatter("hh-rlhf").rows(flipped))
    assert row == {"chosen": original["rejected"], "rejected": original["chosen"]}
    back = parse_hh_rlhf(row)
    assert back.content_hash == record.content_hash and back.messages == record.messages


def test_annotations_and_consensus_rows():
    lab = ExportLabel(id=5, source="human", tiers=[[1], [0]], ranking=[[101], [100]], strength=2,
                      annotator="a_0123456789abcdef", display_order=[101, 100], flags=["unsure"],
                      rationale="r", duration_ms=10, guideline_version=3,
                      created_at="2025-01-01T00:00:00+00:00")
    rows = list(formats.formatter("annotations").rows(item(["a", "b"], None, labels=[lab])))
    assert rows == [{"annotation_id": 5, "item_id": 7, "annotator": "a_0123456789abcdef",
                     "source": "human", "ranking": [[101], [100]], "ranking_positions": [[1], [0]],
                     "display_order": [101, 100], "strength": 2, "flags": ["unsure"],
                     "rationale": "r", "duration_ms": 10, "guideline_version": 3,
                     "created_at": "2025-01-01T00:00:00+00:00", "response_flags": []}]
    review = ExportReview(id=1, decision="rank", note="n", created_at="2025-01-02T00:00:00+00:00")
    row = next(formats.formatter("consensus").rows(item(
        ["a", "b"], [[1], [0]], method="majority", confidence=1.0, agreement=None, n_labels=1,
        n_annotations=1, review=review)))
    assert row["ranking"] == [[101], [100]] and row["ranking_positions"] == [[1], [0]]
    assert row["review"] == {"decision": "rank", "note": "n",
                             "created_at": "2025-01-02T00:00:00+00:00"}
    assert row["responses"][0] == {"id": 100, "position": 0, "text": "a", "model": ""}


# --- parameters ----------------------------------------------------------------------------

def test_parameters_parse_and_round_trip_through_json():
    params = parse_params({"format": "consensus", "min_agreement": "0.7", "min_annotations": "2",
                           "include_gold": "yes", "annotators": "9,3,9", "guideline_version": "4",
                           "since": "2025-03-01", "consensus": "dawid_skene", "ties": "keep",
                           "source": "ai", "split": "test", "split_seed": "5", "test_size": "0.2",
                           "preview": "ignored", "min_agreement_typo": "x"})
    assert params == ExportParams(format="consensus", min_agreement=0.7, min_annotations=2,
                                  include_gold=True, annotators=(3, 9), guideline_version=4,
                                  since=datetime(2025, 3, 1, tzinfo=UTC), consensus="dawid_skene",
                                  ties="keep", source="ai", split="test", split_seed=5,
                                  test_size=0.2)
    stored = json.loads(json.dumps(params.as_dict()))
    assert ExportParams.from_dict(stored) == params
    assert parse_params({}) == ExportParams() and ExportParams().sources == ("human", "import")
    assert parse_params({"min_agreement": "", "since": ""}) == ExportParams()
    for since in ("2025-03-01T12:00:00+02:00", "2025-03-01T12:00:00 02:00"):  # "+" unencoded
        assert parse_params({"since": since}).since == datetime(2025, 3, 1, 10, tzinfo=UTC)


def test_every_bad_parameter_is_named():
    with pytest.raises(ValidationFailed) as caught:
        parse_params({"format": "parquet", "min_agreement": "nan", "min_annotations": "-1",
                      "include_gold": "maybe", "annotators": "1,,2", "guideline_version": "0",
                      "since": "2025-13-01", "consensus": "vote", "ties": "x", "source": "bots",
                      "split": "dev", "split_seed": "99999999999999999999", "test_size": "1"})
    fields = [error["field"] for error in caught.value.errors]
    assert sorted(fields) == sorted(["format", "min_agreement", "min_annotations",
                                     "include_gold", "annotators", "guideline_version", "since",
                                     "consensus", "ties", "source", "split", "split_seed",
                                     "test_size"])
    with pytest.raises(ValidationFailed):
        ExportParams.from_dict({"formt": "trl"})


def test_split_by_content_hash_is_stable_and_near_the_test_size():
    hashes = [f"{n:064x}" for n in range(4000)]
    test = ExportParams(split="test", test_size=0.2)
    train = ExportParams(split="train", test_size=0.2)
    held = [h for h in hashes if test.in_split(h)]
    assert all(train.in_split(h) != test.in_split(h) for h in hashes)
    assert abs(len(held) / len(hashes) - 0.2) < 0.03  # binomial sd ≈ 0.006
    assert held != [h for h in hashes if ExportParams(split="test", test_size=0.2,
                                                      split_seed=1).in_split(h)]


# --- writers -------------------------------------------------------------------------------

def test_jsonl_pieces_gzip_and_file(tmp_path):
    rows = [{"n": n, "text": "é" * (n % 50)} for n in range(3000)]
    pieces = list(writers.jsonl_bytes(rows, chunk_bytes=4096))
    assert len(pieces) > 5 and all(piece.endswith(b"\n") for piece in pieces)
    joined = b"".join(pieces)
    assert [json.loads(line) for line in joined.splitlines()] == rows
    assert b"\\u" not in joined and b", " not in joined
    packed = b"".join(writers.gzip_bytes(pieces))
    assert gzip.decompress(packed) == joined
    assert b"".join(writers.gzip_bytes(writers.jsonl_bytes(rows))) == packed  # deterministic
    sha256, size, n = writers.write_jsonl(iter(rows), tmp_path / "rows.jsonl")
    assert (tmp_path / "rows.jsonl").read_bytes() == joined and (size, n) == (len(joined), 3000)
    assert sha256 == writers.file_sha256(tmp_path / "rows.jsonl")
    assert list(tmp_path.iterdir()) == [tmp_path / "rows.jsonl"]


def sample_rows(format: str) -> list[dict]:
    chat = [{"role": "user", "content": "Hi"}]
    lab = ExportLabel(id=5, source="import", tiers=[[0], [1]], ranking=[[100], [101]])
    review = ExportReview(id=1, decision="gold", note="", created_at="2025-01-02T00:00:00+00:00")
    items = [item(["a", "b"], [[0], [1]], agreement=0.5, n_annotations=2, labels=[lab],
                  method="majority", confidence=1.0, n_labels=1),
             item(["c", "d"], [[1], [0]], messages=chat, id=8, review=review, method="majority",
                  confidence=1.0)]
    formatter = formats.formatter(format)
    return [row for it in items for row in formatter.rows(it)]


@pytest.mark.parametrize("format", ["trl", "hh-rlhf", "annotations", "consensus"])
def test_parquet_reads_back_as_the_json_lines(tmp_path, format):
    from datasets import load_dataset

    rows = sample_rows(format)
    writers.write_jsonl(rows, tmp_path / "data.jsonl")
    sha256, size = writers.write_parquet(tmp_path / "data.jsonl", tmp_path / "data.parquet",
                                         format=format)
    assert size == (tmp_path / "data.parquet").stat().st_size
    schema = writers.schema_for(format, conversational=format == "trl")
    assert pq.read_schema(tmp_path / "data.parquet") == schema
    if format == "trl":
        # An iterable is decided by its first row, here a standard one.
        with pytest.raises(ValueError, match="conversational"):
            writers.write_parquet(rows, tmp_path / "again.parquet", format=format)
        rows = [writers.as_conversational(row) for row in rows]
    assert writers.write_parquet(rows, tmp_path / "again.parquet", format=format)[0] == sha256
    loaded = load_dataset("parquet", data_files=str(tmp_path / "data.parquet"),
                          split="train", cache_dir=str(tmp_path / "cache"))
    assert loaded.to_list() == [{name: row.get(name) for name in schema.names} for row in rows]
