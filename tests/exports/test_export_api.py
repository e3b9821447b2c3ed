"""The streaming export: every format, every filter, ties, K = 4 expansion, conversational
items, reviews and exclusions, manifests, errors and who may export."""

from __future__ import annotations

import gzip
import itertools
import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from annotation import services
from annotation.exports import dataset, writers
from annotation.exports.params import ExportParams
from annotation.imports.formats import content_hash, parse_hh_rlhf
from annotation.models import Annotation, AuditLog, Item, Response
from annotation.quality import services as quality
from annotation.quality.compute import compute

pytestmark = pytest.mark.django_db


# --- builders (the other export tests use them too) ----------------------------------------

def make_item(project, texts, *, prompt=None, messages=None, gold=None, meta=None):
    """An item with responses ``texts`` (position order); returns (item, response ids)."""
    item = Item.objects.create(
        project=project, prompt=prompt or "", messages=messages, meta=meta or {},
        content_hash=content_hash(prompt=None if messages else prompt, messages=messages,
                                  responses=list(texts)))
    ids = [Response.objects.create(item=item, position=p, text=t).pk for p, t in enumerate(texts)]
    if gold is not None:
        item.is_gold, item.gold_ranking = True, [[ids[p] for p in tier] for tier in gold]
        item.save()
    return item, ids


def label(project, item, user, ranking, **fields):
    source = fields.pop("source", Annotation.Source.HUMAN if user else Annotation.Source.IMPORT)
    return Annotation.objects.create(project=project, item=item, annotator=user, source=source,
                                     ranking=ranking, **fields)


def url(project, *, count=False, **query) -> str:
    base = f"/api/v1/projects/{project.pk}/export/" + ("count/" if count else "")
    return base + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def body_of(response) -> bytes:
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def lines(response) -> list[dict]:
    return [json.loads(line) for line in body_of(response).splitlines()]


@pytest.fixture
def world(make_user):
    """K = 2 "Kitchen": A contested (2-1, one strong), B conversational with one label, C tied,
    D imported only, E's only label excluded, F an AI label, G gold. Versions: a0 v1, a1 v2."""
    manager = make_user("ex-manager")
    project = services.create_project(actor=manager, name="Kitchen Sink", responses_per_item=2)
    other = services.create_project(actor=manager, name="Elsewhere", responses_per_item=2)
    people = {"manager": manager, "outsider": make_user("ex-outsider")}
    for name, where, role in [("reviewer", project, "reviewer"), ("annotator", project,
                              "annotator"), ("a0", project, "annotator"), ("a1", project,
                              "annotator"), ("a2", project, "annotator"), ("other-reviewer",
                              other, "reviewer"), ("other-annotator", other, "annotator")]:
        people[name] = make_user(f"ex-{name}")
        services.set_membership(actor=manager, project=where, user=people[name], role=role)
    a0, a1, a2, items = people["a0"], people["a1"], people["a2"], {}
    items["A"], (x, y) = make_item(project, ["A good", "A bad"], prompt="Prompt A")
    label(project, items["A"], a0, [[x], [y]], strength=3, guideline_version=1)
    label(project, items["A"], a1, [[x], [y]], guideline_version=2)
    label(project, items["A"], a2, [[y], [x]])
    chat = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi ✓"}]
    items["B"], (x, y) = make_item(project, ["Hello", "Go away"], messages=chat)
    label(project, items["B"], a0, [[x], [y]], guideline_version=1)
    items["C"], (x, y) = make_item(project, ["C one", "C two"], prompt="Prompt C")
    label(project, items["C"], a1, [[x, y]], guideline_version=2)
    items["D"], (x, y) = make_item(project, ["D first", "D second"], prompt="Prompt D")
    label(project, items["D"], None, [[y], [x]])
    items["E"], (x, y) = make_item(project, ["E one", "E two"], prompt="Prompt E")
    excluded = label(project, items["E"], a1, [[x], [y]], rationale="SECRET-RATIONALE")
    quality.review_item(actor=people["reviewer"], item=items["E"], decision="exclude",
                        annotation_id=excluded.pk)
    items["F"], (x, y) = make_item(project, ["F one", "F two"], prompt="Prompt F")
    label(project, items["F"], None, [[y], [x]], source=Annotation.Source.AI)
    items["G"], (x, y) = make_item(project, ["G one", "G two"], prompt="Prompt G", gold=[[0], [1]])
    label(project, items["G"], a2, [[x], [y]])
    return project, people, items


def ids_of(rows) -> list[int]:
    return [row["item_id"] for row in rows]


# --- formats -------------------------------------------------------------------------------

def test_trl_rows_standard_and_conversational(world, client_for):
    project, people, items = world
    response = client_for(people["manager"]).get(url(project, format="trl"))
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"] == 'attachment; filename="kitchen-sink-trl.jsonl"'
    rows = lines(response)
    assert ids_of(rows) == [items["A"].pk, items["B"].pk, items["D"].pk]
    a, b, d = rows
    assert list(a) == ["prompt", "chosen", "rejected", "item_id", "agreement", "n_annotations",
                       "margin"]
    assert (a["prompt"], a["chosen"], a["rejected"]) == ("Prompt A", "A good", "A bad")
    assert a["agreement"] == pytest.approx(2 / 3) and a["n_annotations"] == 3
    # strong (1.5) + clear (1) - clear (1) over three labels
    assert a["margin"] == pytest.approx(0.5)
    assert b["prompt"] == items["B"].messages
    assert b["chosen"] == [{"role": "assistant", "content": "Hello"}]
    assert b["rejected"] == [{"role": "assistant", "content": "Go away"}]
    assert (b["agreement"], b["n_annotations"], b["margin"]) == (None, 1, 1.0)
    assert (d["chosen"], d["rejected"], d["n_annotations"]) == ("D second", "D first", 0)


def test_export_is_stable_and_gzip_is_the_same_lines(world, client_for):
    project, people, _ = world
    client = client_for(people["reviewer"])
    first = body_of(client.get(url(project, format="consensus")))
    assert body_of(client.get(url(project, format="consensus"))) == first
    packed = client.get(url(project, format="consensus", compress="gzip"))
    assert packed["Content-Type"] == "application/gzip"
    assert packed["Content-Disposition"].endswith('kitchen-sink-consensus.jsonl.gz"')
    assert gzip.decompress(body_of(packed)) == first


def test_hh_rlhf_lines_read_back_to_the_same_items_and_preferences(world, client_for):
    project, people, items = world
    rows = lines(client_for(people["manager"]).get(url(project, format="hh-rlhf")))
    assert len(rows) == 3 and all(set(row) == {"chosen", "rejected"} for row in rows)
    parsed = [parse_hh_rlhf(row) for row in rows]
    # A plain prompt is one Human turn; B's system message becomes one too.
    assert parsed[0].messages == [{"role": "user", "content": "Prompt A"}]
    assert [r.text for r in parsed[0].responses] == ["A good", "A bad"]
    assert parsed[1].messages == [{"role": "user", "content": "Be terse."},
                                  {"role": "user", "content": "Hi ✓"}]
    assert [r.text for r in parsed[2].responses] == ["D second", "D first"]
    assert all(record.preference == [[0], [1]] for record in parsed)
    assert rows[0]["chosen"] == "\n\nHuman: Prompt A\n\nAssistant: A good"


def test_annotations_one_line_per_label_with_a_pseudonym(world, client_for):
    project, people, items = world
    rows = lines(client_for(people["reviewer"]).get(url(project, format="annotations")))
    labels = Annotation.objects.filter(project=project, excluded=False, item__is_gold=False,
                                       source__in=["human", "import"]).order_by("item_id", "id")
    assert [row["annotation_id"] for row in rows] == [a.pk for a in labels]
    first = rows[0]
    assert list(first) == ["annotation_id", "item_id", "annotator", "source", "ranking",
                           "ranking_positions", "display_order", "strength", "flags",
                           "rationale", "duration_ms", "guideline_version", "created_at",
                           "response_flags"]
    x, y = items["A"].responses.order_by("position").values_list("pk", flat=True)
    assert (first["ranking"], first["ranking_positions"]) == ([[x], [y]], [[0], [1]])
    assert (first["strength"], first["guideline_version"], first["source"]) == (3, 1, "human")
    assert first["created_at"] == labels[0].created_at.isoformat()
    pseudonyms = {row["annotator"] for row in rows}
    a0 = dataset.pseudonym(project_id=project.pk, user_id=people["a0"].pk)
    assert first["annotator"] == a0 and a0.startswith("a_") and len(a0) == 18
    assert next(row for row in rows if row["source"] == "import")["annotator"] is None
    assert len(pseudonyms - {None}) == 3
    text = json.dumps(rows)
    assert not any(user.username in text for user in people.values())
    assert "SECRET-RATIONALE" not in text  # the excluded label
    assert dataset.pseudonym(project_id=project.pk + 1, user_id=people["a0"].pk) != a0


def test_annotations_show_the_order_an_annotator_was_shown(world, client_for):
    from annotation.assignment import services as engine
    from annotation.assignment.submission import submit_annotation

    project, people, _ = world
    task = engine.next_task(project_id=project.pk, annotator=people["annotator"])
    shown = [response["id"] for response in task.responses]
    done = submit_annotation(assignment_id=task.assignment.pk, annotator=people["annotator"],
                             ranking=[[shown[1]], [shown[0]]], flags=["unsure"],
                             rationale="why", duration_ms=1234)
    rows = lines(client_for(people["manager"]).get(url(project, format="annotations",
                                                       include_gold="true")))
    mine = next(row for row in rows if row["annotation_id"] == done.annotation_id)
    assert mine["display_order"] == task.assignment.display_order == shown
    assert mine["ranking"] == [[shown[1]], [shown[0]]]
    assert (mine["flags"], mine["rationale"], mine["duration_ms"]) == (["unsure"], "why", 1234)


def test_consensus_rows_with_responses_review_and_method(world, client_for):
    project, people, items = world
    client = client_for(people["manager"])
    rows = {row["item_id"]: row for row in lines(client.get(url(project, format="consensus")))}
    assert sorted(rows) == sorted(items[n].pk for n in "ABCD")
    a = rows[items["A"].pk]
    x, y = items["A"].responses.order_by("position").values_list("pk", flat=True)
    assert list(a) == ["item_id", "prompt", "responses", "ranking", "ranking_positions", "method",
                       "confidence", "agreement", "n_labels", "n_annotations", "review"]
    assert a["responses"] == [{"id": x, "position": 0, "text": "A good", "model": ""},
                              {"id": y, "position": 1, "text": "A bad", "model": ""}]
    assert (a["ranking"], a["ranking_positions"], a["method"]) == ([[x], [y]], [[0], [1]],
                                                                   "majority")
    assert (a["n_labels"], a["n_annotations"], a["review"]) == (3, 3, None)
    assert rows[items["B"].pk]["messages"] == items["B"].messages
    assert "prompt" not in rows[items["B"].pk]
    assert rows[items["C"].pk]["ranking_positions"] == [[0, 1]]
    # A reviewer's ranking decides A; an excluded item with a decision comes back.
    quality.review_item(actor=people["reviewer"], item=items["A"], decision="rank",
                        ranking=[[y], [x]], note="B is right")
    ex, ey = items["E"].responses.order_by("position").values_list("pk", flat=True)
    quality.review_item(actor=people["reviewer"], item=items["E"], decision="rank",
                        ranking=[[ey], [ex]])
    rows = {row["item_id"]: row for row in lines(client.get(url(project, format="consensus",
                                                                consensus="bradley_terry")))}
    a = rows[items["A"].pk]
    assert (a["ranking"], a["confidence"], a["method"]) == ([[y], [x]], 1.0, "bradley_terry")
    assert a["review"]["decision"] == "rank" and a["review"]["note"] == "B is right"
    e = rows[items["E"].pk]
    assert (e["ranking"], e["n_labels"], e["review"]["decision"]) == ([[ey], [ex]], 0, "rank")
    trl = {row["item_id"]: row for row in lines(client.get(url(project)))}
    assert trl[items["A"].pk]["chosen"] == "A bad"
    assert trl[items["A"].pk]["margin"] == 0.0  # the votes say the opposite
    assert trl[items["E"].pk]["margin"] == 1.0  # the review as one plain vote
    # Labels picked by a filter: a review no longer brings an item without them.
    picked = lines(client.get(url(project, format="consensus", guideline_version=1)))
    assert items["E"].pk not in ids_of(picked)


@pytest.mark.parametrize("method", ["majority", "bradley_terry", "dawid_skene"])
def test_consensus_is_what_quality_computes(make_user, client_for, method):
    manager = make_user("cq-manager")
    project = services.create_project(actor=manager, name="Compare", responses_per_item=3)
    people = [make_user(f"cq-{n}") for n in range(4)]
    orders = list(itertools.permutations(range(3)))
    for n in range(12):
        item, ids = make_item(project, [f"{n}-{p}" for p in range(3)], prompt=f"P{n}")
        for r, person in enumerate(people[: 1 + n % 4]):
            order = orders[(n + r * (r + n)) % len(orders)]
            tiers = [[ids[order[0]]], [ids[order[1]], ids[order[2]]]] if (n + r) % 5 == 0 else [
                [ids[p]] for p in order]
            label(project, item, person, tiers)
        if n % 3 == 0:
            label(project, item, None, [[ids[2]], [ids[0]], [ids[1]]])
    want = compute(project=project, method=method)
    rows = lines(client_for(manager).get(url(project, format="consensus", consensus=method)))
    assert sorted(ids_of(rows)) == sorted(want)
    for row in rows:
        expected = want[row["item_id"]]
        assert row["ranking"] == expected.ranking, row["item_id"]
        assert row["confidence"] == pytest.approx(expected.confidence, abs=1e-9)
        assert row["agreement"] == (pytest.approx(expected.agreement)
                                    if expected.agreement is not None else None)
        assert row["n_labels"] == expected.n_labels


# --- K > 2 and ties ------------------------------------------------------------------------

def test_k4_rankings_expand_to_every_implied_pair(make_user, client_for):
    manager = make_user("k4-manager")
    project = services.create_project(actor=manager, name="Four", responses_per_item=4)
    annotator = make_user("k4-a")
    strict, ids = make_item(project, ["w", "x", "y", "z"], prompt="rank four")
    order = [ids[2], ids[0], ids[3], ids[1]]
    label(project, strict, annotator, [[rid] for rid in order], strength=None)
    tied, tids = make_item(project, ["p", "q", "r", "s"], prompt="with a tie")
    label(project, tied, annotator, [[tids[0]], [tids[1], tids[2]], [tids[3]]])
    client = client_for(manager)
    rows = lines(client.get(url(project, format="trl")))
    text = {rid: t for rid, t in zip(ids + tids, "wxyzpqrs", strict=True)}
    strict_rows = [row for row in rows if row["item_id"] == strict.pk]
    assert len(strict_rows) == 6
    rank = {text[rid]: n for n, rid in enumerate(order)}
    assert {(row["chosen"], row["rejected"]) for row in strict_rows} == {
        (a, b) for a, b in itertools.permutations("wxyz", 2) if rank[a] < rank[b]}
    # In position order: (w, x), (w, y), (w, z), (x, y), (x, z), (y, z), oriented.
    assert [(row["chosen"], row["rejected"]) for row in strict_rows][:3] == [
        ("w", "x"), ("y", "w"), ("w", "z")]
    tied_rows = [row for row in rows if row["item_id"] == tied.pk]
    assert len(tied_rows) == 5 and all("tie" not in row for row in rows)
    kept = [row for row in lines(client.get(url(project, ties="keep")))
            if row["item_id"] == tied.pk]
    assert len(kept) == 6
    tie = [row for row in kept if row["tie"]]
    assert [(row["chosen"], row["rejected"], row["margin"]) for row in tie] == [("q", "r", 0.0)]
    assert client.get(url(project, count=True, ties="keep")).json() == {"rows": 12}
    hh = lines(client.get(url(project, format="hh-rlhf")))
    assert len(hh) == 11


def test_tied_consensus_is_dropped_or_kept(world, client_for):
    project, people, items = world
    client = client_for(people["manager"])
    assert items["C"].pk not in ids_of(lines(client.get(url(project))))
    kept = [row for row in lines(client.get(url(project, ties="keep")))
            if row["item_id"] == items["C"].pk]
    assert [(row["tie"], row["margin"]) for row in kept] == [(True, 0.0)]


# --- filters -------------------------------------------------------------------------------

def test_each_filter(world, client_for):
    project, people, items = world
    client = client_for(people["manager"])

    def ids(**query):
        return ids_of(lines(client.get(url(project, format="consensus", **query))))

    a, b, c, d, f, g = (items[n].pk for n in "ABCDFG")
    assert ids() == [a, b, c, d]
    assert ids(min_agreement="0.6") == [a]
    assert ids(min_agreement="0.7") == []
    assert ids(min_annotations="1") == [a, b, c]
    assert ids(min_annotations="2") == [a]
    assert ids(include_gold="true") == [a, b, c, d, g]
    assert ids(annotators=f"{people['a0'].pk}") == [a, b]
    assert ids(annotators=f"{people['a1'].pk},{people['a2'].pk}") == [a, c]
    repeated = url(project, format="consensus") + "".join(
        f"&annotators={people[n].pk}" for n in ("a1", "a2"))
    assert ids_of(lines(client.get(repeated))) == [a, c]
    assert ids(guideline_version="2") == [a, c]
    assert ids(source="human") == [a, b, c]
    assert ids(source="import") == [d]
    assert ids(source="ai") == [f]
    Annotation.objects.filter(item=items["A"], annotator=people["a2"]).update(
        created_at=timezone.now() - timedelta(days=10))
    Annotation.objects.exclude(item=items["A"]).update(
        created_at=timezone.now() - timedelta(days=30))
    since = (timezone.now() - timedelta(days=20)).date().isoformat()
    rows = lines(client.get(url(project, format="consensus", since=since)))
    assert ids_of(rows) == [a] and rows[0]["n_labels"] == 3
    recent = (timezone.now() - timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = lines(client.get(url(project, format="consensus", since=recent)))
    assert ids_of(rows) == [a] and rows[0]["n_labels"] == 2


def test_split_is_seeded_by_item_and_partitions_the_export(make_user, client_for):
    manager = make_user("sp-manager")
    project = services.create_project(actor=manager, name="Split", responses_per_item=2)
    for n in range(60):
        item, (x, y) = make_item(project, [f"{n}a", f"{n}b"], prompt=f"split {n}")
        label(project, item, None, [[x], [y]])
    client = client_for(manager)
    every = ids_of(lines(client.get(url(project))))
    train = ids_of(lines(client.get(url(project, split="train", test_size="0.25"))))
    test = ids_of(lines(client.get(url(project, split="test", test_size="0.25"))))
    assert sorted(train + test) == every and not set(train) & set(test)
    assert 5 <= len(test) <= 25
    params = ExportParams(split="test", test_size=0.25)
    hashes = dict(Item.objects.filter(project=project).values_list("pk", "content_hash"))
    assert test == [pk for pk in every if params.in_split(hashes[pk])]
    other_seed = ids_of(lines(client.get(url(project, split="test", test_size="0.25",
                                            split_seed="7"))))
    assert other_seed != test
    filename = client.get(url(project, split="test"))["Content-Disposition"]
    assert filename.endswith('split-trl-test.jsonl"')


def test_excluded_labels_never_appear(world, client_for):
    project, people, items = world
    client = client_for(people["manager"])
    label_a2 = Annotation.objects.get(item=items["A"], annotator=people["a2"])
    quality.review_item(actor=people["reviewer"], item=items["A"], decision="exclude",
                        annotation_id=label_a2.pk)
    for format in ("annotations", "consensus", "trl"):
        text = body_of(client.get(url(project, format=format, include_gold="true")))
        assert f'"annotation_id":{label_a2.pk},' not in text.decode()
    a = next(row for row in lines(client.get(url(project, format="consensus")))
             if row["item_id"] == items["A"].pk)
    assert (a["n_labels"], a["agreement"]) == (2, 1.0)


# --- preview, count, manifest --------------------------------------------------------------

def test_preview_and_count(world, client_for):
    project, people, _ = world
    client = client_for(people["reviewer"])
    every = lines(client.get(url(project, format="annotations")))
    preview = client.get(url(project, format="annotations", preview="2"))
    assert preview.status_code == 200 and preview["Content-Type"] == "application/json"
    assert preview.json() == {"rows": every[:2], "count": len(every)}
    count = client.get(url(project, count=True, format="annotations"))
    assert count.json() == {"rows": len(every)}
    assert dataset.preview(project=project, params=ExportParams(), n=1)["count"] == 3
    download = AuditLog.objects.get(project=project, action="export.download")
    assert download.data["params"]["format"] == "annotations"


def test_a_manifest_rebuilds_the_same_rows(world):
    project, people, items = world
    x, y = items["C"].responses.order_by("position").values_list("pk", flat=True)
    cases = [ExportParams(format="annotations"), ExportParams(consensus="dawid_skene"),
             ExportParams(format="consensus", consensus="bradley_terry")]
    taken = [dataset.manifest(project=project, params=params) for params in cases]
    before = [list(dataset.export_rows(project=project, params=params, manifest=manifest))
              for params, manifest in zip(cases, taken, strict=True)]
    assert [row["annotation_id"] for row in before[0]] == list(taken[0].annotation_ids)
    # The tied item C gives no trl row, but with Dawid–Skene its label shaped the fit.
    assert len(taken[1].annotation_ids) == len(taken[0].annotation_ids) == 6
    # New labels, items and reviews since: the rebuild reads none of them.
    label(project, items["C"], people["a2"], [[y], [x]])
    label(project, items["B"], people["a1"], [[y], [x]])
    make_item(project, ["new one", "new two"], prompt="new")
    d_ids = list(items["D"].responses.values_list("pk", flat=True))
    quality.review_item(actor=people["reviewer"], item=items["D"], decision="rank",
                        ranking=[d_ids])
    for params, manifest, rows in zip(cases, taken, before, strict=True):
        assert list(dataset.export_rows(project=project, params=params,
                                        manifest=manifest)) == rows
        assert dataset.count_rows(project=project, params=params, manifest=manifest) == len(rows)
        assert list(dataset.export_rows(project=project, params=params)) != rows
    assert taken[2].review_ids == ()
    assert len(dataset.manifest(project=project, params=cases[2]).review_ids) == 1


# --- errors and permissions ----------------------------------------------------------------

def test_bad_parameters_are_named_before_any_byte(world, client_for):
    project, people, _ = world
    client = client_for(people["manager"])
    got = client.get(url(project, format="csv", min_agreement="2", annotators="1,x",
                         since="yesterday", ties="sometimes", compress="zip", preview="500"))
    assert got.status_code == 400 and not getattr(got, "streaming", False)
    assert got["Content-Type"] == "application/json"
    assert {e["field"] for e in got.json()["errors"]} == {
        "format", "min_agreement", "annotators", "since", "ties"}
    got = client.get(url(project, compress="zip", preview="0"))
    assert {e["field"] for e in got.json()["errors"]} == {"compress", "preview"}
    got = client.get(url(project, count=True, source="robots", split="validation"))
    assert got.status_code == 400 and {e["field"] for e in got.json()["errors"]} == {
        "source", "split"}
    # Unknown parameters are ignored, as elsewhere in the API.
    assert client.get(url(project, page_size="1000", status="done")).status_code == 200


@pytest.mark.parametrize("who,status", [
    ("manager", 200), ("reviewer", 200), ("annotator", 403), ("a0", 403), ("outsider", 404),
    ("other-reviewer", 404), ("other-annotator", 404), (None, 401)])
def test_who_may_export(world, client_for, who, status):
    project, people, _ = world
    client = client_for(people[who] if who else None)
    for path in (url(project), url(project, count=True), url(project, preview="1"),
                 url(project, format="annotations", compress="gzip")):
        got = client.get(path)
        assert got.status_code == status, (path, got.status_code)
        if status != 200:
            assert "Prompt A" not in got.content.decode()


@pytest.mark.parametrize("query", [
    {}, {"ties": "keep"}, {"format": "hh-rlhf", "include_gold": "true"},
    {"format": "annotations", "source": "human"}, {"format": "consensus", "min_annotations": "1"},
    {"consensus": "dawid_skene", "ties": "keep"}, {"split": "test", "test_size": "0.5"}])
def test_the_count_is_the_number_of_lines(world, client_for, query):
    project, people, _ = world
    client = client_for(people["reviewer"])
    count = client.get(url(project, count=True, **query)).json()["rows"]
    assert count == len(lines(client.get(url(project, **query))))


@pytest.mark.django_db(transaction=True)
def test_a_caller_may_write_between_rows_outside_a_transaction(world, monkeypatch):
    """A snapshot records its progress while it reads the rows (autocommit), here with the
    item cursor open across chunks of two items."""
    monkeypatch.setattr(dataset, "ITEM_CHUNK", 2)
    project, people, _ = world
    rows = dataset.export_rows(project=project, params=ExportParams(format="annotations"))
    for _ in rows:
        services.audit(actor=people["manager"], action="test.progress", project=project)
    assert AuditLog.objects.filter(action="test.progress").count() == 6


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_download_reads_one_consistent_snapshot(world, client_for, monkeypatch):
    """Outside a test transaction the endpoint opens its own read-only one."""
    monkeypatch.setattr(dataset, "ITEM_CHUNK", 1)
    monkeypatch.setattr(writers, "CHUNK_BYTES", 1)  # a piece per row
    project, people, items = world
    response = client_for(people["manager"]).get(url(project, format="consensus"))
    chunks = iter(response.streaming_content)
    first = next(chunks)
    # A label that arrives (from another connection) while the download runs is not in it.
    x, y = items["D"].responses.order_by("position").values_list("pk", flat=True)

    writer = threading.Thread(target=lambda: (
        label(project, items["D"], people["a0"], [[x], [y]]), connection.close()))
    writer.start()
    writer.join()
    rows = [json.loads(line) for line in (first + b"".join(chunks)).splitlines()]
    assert ids_of(rows) == [items[n].pk for n in "ABCD"]
    assert rows[-1]["n_labels"] == 1 and Annotation.objects.filter(item=items["D"]).count() == 2
    hung_up = client_for(people["manager"]).get(url(project, format="consensus"))
    next(iter(hung_up.streaming_content))
    hung_up.close()
    assert not connection.in_atomic_block and Item.objects.filter(project=project).exists()
