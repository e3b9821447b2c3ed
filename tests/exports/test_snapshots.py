"""Snapshots: built in the background from a manifest, immutable, byte-for-byte reproducible,
readable by ``datasets``, downloadable with ranges by reviewers and managers only."""

from __future__ import annotations

import hashlib
import json
import random
import time
from datetime import timedelta

import pytest
from datasets import load_dataset
from django.utils import timezone
from huggingface_hub import DatasetCard

from annotation import services
from annotation.exports import card, dataset, snapshots, writers
from annotation.exports.models import Snapshot
from annotation.exports.params import ExportParams
from annotation.exports.snapshot_api import Unsatisfiable, byte_range
from annotation.models import Annotation, Guideline, Item, Membership, Response, Review
from annotation.webhooks.models import Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db
K = 3
SUFFIXES = {"jsonl": ".jsonl", "parquet": ".parquet", "card": "-README.md",
            "manifest": "-manifest.json"}


def url(project, *rest) -> str:
    return "/".join([f"/api/v1/projects/{project.pk}/snapshots", *map(str, rest)]) + "/"


def label(project, item, user, ranking, *, source=Annotation.Source.HUMAN, **fields):
    return Annotation.objects.create(project=project, item=item, annotator=user, source=source,
                                     ranking=ranking, guideline_version=1, **fields)


@pytest.fixture
def world(project_with_roles, make_user):
    """The K=2 roles fixture's users on a K=3 project: 9 labelled items (one a chat item,
    one with an imported label, one decided by a reviewer), three annotators who disagree."""
    _, users = project_with_roles
    manager = users["manager"]
    project = services.create_project(actor=manager, name="Snap: helpfulness", overlap=3,
                                      responses_per_item=K,
                                      settings={"export": {"license": "cc-by-4.0"}})
    for role in ("reviewer", "annotator"):
        services.set_membership(actor=manager, project=project, user=users[role], role=role)
    Guideline.objects.create(project=project, version=1, text="Be helpful.", created_by=manager)
    raters = [make_user(f"rater{n}") for n in range(3)]
    for user in raters:
        services.set_membership(actor=manager, project=project, user=user,
                                role=Membership.Role.ANNOTATOR)
    rng = random.Random(7)
    items = []
    for n in range(9):
        chat = [{"role": "user", "content": f"question {n}?"}] if n == 4 else None
        item = Item.objects.create(project=project, prompt="" if chat else f"prompt {n} é",
                                   messages=chat, content_hash=f"{n:064x}")
        ids = [Response.objects.create(item=item, position=p, text=f"answer {p} to {n}",
                                       model=f"m{p}").pk for p in range(K)]
        for user in raters:
            order = ids[:]
            rng.shuffle(order)
            tiers = [[order[0], order[1]], [order[2]]] if rng.random() < 0.2 else \
                [[i] for i in order]
            label(project, item, user, tiers, strength=rng.choice([None, 1, 2, 3]))
        items.append((item, ids))
    label(project, items[2][0], None, [[i] for i in items[2][1]], source=Annotation.Source.IMPORT)
    item, ids = items[5]
    Review.objects.create(item=item, reviewer=users["reviewer"], decision="rank",
                          ranking=[[ids[2]], [ids[0]], [ids[1]]], note="checked")
    return project, users, raters, items


def built(project, user, **params) -> Snapshot:
    """Create a snapshot and run its build as the worker would."""
    snapshot = snapshots.create(actor=user, project=project,
                                params=ExportParams.from_dict(params))
    snapshots.build(str(snapshot.pk))
    snapshot.refresh_from_db()
    return snapshot


def download(client, project, snapshot, file="jsonl", **headers):
    response = client.get(url(project, snapshot.pk, "download") + f"?file={file}",
                          headers=headers)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def test_a_manager_creates_a_snapshot_that_a_worker_builds(world, client_for,
                                                          django_capture_on_commit_callbacks):
    project, users, _, _ = world
    client = client_for(users["manager"])
    with django_capture_on_commit_callbacks(execute=True) as sent:
        answer = client.post(url(project), {"format": "trl", "ties": "keep"}, format="json")
        assert answer.status_code == 202, answer.json()
        # Queued in the request; the build is sent once the row is committed.
        assert answer.json()["status"] == "queued" and answer.json()["download_url"] is None
    assert len(sent) == 1
    shown = client.get(url(project, answer.json()["id"])).json()
    assert shown["status"] == "ready" and shown["progress"] == 1.0
    assert shown["params"]["consensus"] == "majority"  # the project setting, recorded
    params = ExportParams.from_dict(shown["params"])
    assert shown["rows"] == dataset.count_rows(project=project, params=params) > 0
    snapshot = Snapshot.objects.get(pk=shown["id"])
    response, body = download(client, project, snapshot)
    assert response.status_code == 200
    assert shown["sha256"] == hashlib.sha256(body).hexdigest() == response["ETag"].strip('"')
    assert shown["size_bytes"] == len(body) == int(response["Content-Length"])
    expected = list(dataset.export_rows(project=project, params=params))
    assert [json.loads(line) for line in body.splitlines()] == json.loads(json.dumps(expected))
    assert shown["n_annotations"] == len(dataset.manifest(project=project,
                                                          params=params).annotation_ids)
    for key in ("download_url", "parquet_url", "card_url", "manifest_url"):
        assert client.get(shown[key]).status_code == 200


def test_bad_parameters_are_named_and_nothing_is_queued(world, client_for):
    project, users, _, _ = world
    client = client_for(users["manager"])
    answer = client.post(url(project), {"format": "csv", "min_agreement": 2, "colour": "red"},
                         format="json")
    assert answer.status_code == 400
    assert {e["field"] for e in answer.json()["errors"]} == {"colour"}
    answer = client.post(url(project), {"format": "csv", "min_agreement": 2}, format="json")
    assert {e["field"] for e in answer.json()["errors"]} == {"format", "min_agreement"}
    assert client.post(url(project), ["trl"], format="json").status_code == 400
    assert not Snapshot.objects.exists()
    # As the page's form sends them: empty means not given.
    answer = client.post(url(project), {"format": "consensus", "min_agreement": "",
                                        "annotators": [users["annotator"].pk]}, format="json")
    assert answer.status_code == 202, answer.json()
    assert answer.json()["params"]["min_agreement"] is None
    assert answer.json()["params"]["annotators"] == [users["annotator"].pk]


@pytest.mark.parametrize("format", ["trl", "hh-rlhf", "annotations", "consensus"])
# None: the project's setting, which the snapshot records (the setting changes below).
@pytest.mark.parametrize("method", [None, "majority", "bradley_terry", "dawid_skene"])
def test_a_snapshots_sha256_is_stable_across_rebuilds(world, tmp_path, format, method):
    project, users, raters, items = world
    snapshot = built(project, users["manager"], format=format, consensus=method, ties="keep")
    assert snapshot.status == "ready", snapshot.detail
    before = {kind: snapshots.file_of(snapshot, kind).read_bytes()
              for kind in ("jsonl", "parquet")}
    # The project moves on: new labels on old and new items, a new review, a new setting.
    extra = Item.objects.create(project=project, prompt="a new one", content_hash="f" * 64)
    new_ids = [Response.objects.create(item=extra, position=p, text=f"new {p}").pk
               for p in range(K)]
    for user in raters:
        label(project, extra, user, [[i] for i in new_ids])
    item, ids = items[0]
    label(project, item, users["annotator"], [[ids[2]], [ids[1]], [ids[0]]])
    Review.objects.create(item=items[1][0], reviewer=users["reviewer"], decision="rank",
                          ranking=[[i] for i in items[1][1][::-1]])
    project.settings = {"quality": {"consensus": "bradley_terry"}}
    project.save()

    again = snapshots.rebuild(snapshot=snapshot, into=tmp_path / "again")
    assert (again.sha256, again.parquet_sha256, again.rows, again.manifest_sha256) == (
        snapshot.sha256, snapshot.parquet_sha256, snapshot.rows, snapshot.manifest_sha256)
    assert (tmp_path / "again" / "data.jsonl").read_bytes() == before["jsonl"]
    assert (tmp_path / "again" / "data.parquet").read_bytes() == before["parquet"]
    # The same filters now read more: the manifest, not the filters, fixes the contents.
    later = built(project, users["manager"], format=format, consensus=method, ties="keep")
    assert later.manifest_sha256 != snapshot.manifest_sha256
    assert later.sha256 != snapshot.sha256


def test_the_files_load_with_datasets_and_every_column_is_on_the_card(world, tmp_path):
    project, users, _, _ = world
    for format in ("trl", "consensus", "annotations", "hh-rlhf"):
        snapshot = built(project, users["manager"], format=format)
        folder = snapshots.folder_of(snapshot)
        rows = [json.loads(line) for line in (folder / "data.jsonl").read_text().splitlines()]
        cache = str(tmp_path / "hf-cache" / format)
        from_json = load_dataset("json", data_files=str(folder / "data.jsonl"), split="train",
                                 cache_dir=cache)
        from_parquet = load_dataset("parquet", data_files=str(folder / "data.parquet"),
                                    split="train", cache_dir=cache)
        # Through the card's own configs, as the Hub would read the folder.
        from_card = load_dataset(str(folder), split="train", cache_dir=cache)
        documented = {name for name, _ in card.COLUMNS[format]}
        assert set(from_parquet.column_names) <= documented
        assert {key for row in rows for key in row} <= documented
        assert len(from_json) == len(from_parquet) == len(from_card) == snapshot.rows
        assert from_parquet.column_names == from_card.column_names
        if format == "consensus":
            assert from_parquet["item_id"] == [row["item_id"] for row in rows]
            assert from_parquet["ranking"] == [row["ranking"] for row in rows]


def test_the_card_beside_the_files_describes_the_snapshot(world):
    project, users, raters, _ = world
    snapshot = built(project, users["manager"], format="trl", min_annotations=3)
    text = snapshots.file_of(snapshot, "card").read_text()
    meta = DatasetCard(text).data.to_dict()
    assert meta["license"] == "cc-by-4.0"  # the project's export.license
    assert meta["size_categories"] == [card.size_category(snapshot.rows)]
    assert snapshot.sha256 in text and snapshot.parquet_sha256 in text
    assert snapshot.manifest_sha256 in text
    assert "| `min_annotations` | `3` |" in text
    assert f"{len(raters)} members of the project labelled" in text
    assert "labels under versions 1; the project's current version is 1" in text
    assert "| Krippendorff's α (nominal) |" in text


def test_the_manifest_names_exactly_the_labels_and_reviews_read(world):
    project, users, _, items = world
    snapshot = built(project, users["manager"], format="consensus")
    body = json.loads(snapshots.file_of(snapshot, "manifest").read_bytes())
    assert hashlib.sha256(snapshots.file_of(snapshot, "manifest").read_bytes()).hexdigest() \
        == snapshot.manifest_sha256
    assert body["annotation_ids"] == sorted(Annotation.objects.filter(project=project)
                                            .values_list("pk", flat=True))
    assert body["review_ids"] == list(Review.objects.values_list("pk", flat=True))
    assert snapshot.n_annotations == len(body["annotation_ids"])


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_builds_the_snapshot_and_records_its_outcome(world, client_for, tmp_path,
                                                             celery_worker_process):
    project, users, _, _ = world
    client = client_for(users["manager"])
    # The worker's SNAPSHOTS_DIR is DATA_DIR/snapshots, the test's is tmp_path/snapshots.
    with celery_worker_process("test-snapshot-worker", tmp_path) as worker:
        answer = client.post(url(project), {"format": "consensus"}, format="json")
        assert answer.status_code == 202, answer.content
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            shown = client.get(answer.json()["url"]).json()
            if shown["status"] in ("ready", "failed"):
                break
            time.sleep(0.5)
    assert shown["status"] == "ready", (shown, worker.output)
    response, body = download(client, project, Snapshot.objects.get(pk=shown["id"]))
    assert hashlib.sha256(body).hexdigest() == shown["sha256"]
    assert "Traceback" not in worker.output, worker.output


def test_a_failed_build_records_why_and_leaves_no_file(world, monkeypatch, client_for):
    project, users, _, _ = world

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(writers, "write_parquet", broken)
    snapshot = built(project, users["manager"], format="trl")
    assert snapshot.status == "failed" and "OSError" in snapshot.detail
    assert snapshot.finished_at is not None and not snapshot.sha256
    assert not snapshots.folder_of(snapshot).exists()
    assert list((snapshots.root() / ".staging").iterdir()) == []
    response, body = download(client_for(users["reviewer"]), project, snapshot)
    assert response.status_code == 409 and b"failed" in body


def test_a_failure_after_the_files_are_in_place_removes_them(world, monkeypatch):
    project, users, _, _ = world

    def unreachable(**kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(snapshots.webhooks, "emit", unreachable)
    snapshot = built(project, users["manager"], format="consensus")
    assert snapshot.status == "failed" and "RuntimeError" in snapshot.detail
    assert not snapshots.folder_of(snapshot).exists()


def test_a_build_delivered_twice_runs_once_and_announces_once(world):
    project, users, _, _ = world
    Webhook.objects.create(project=project, url="https://example.org/hook", secret="s" * 20,
                           events=["snapshot.ready"])
    snapshot = built(project, users["manager"], format="trl")
    snapshots.build(str(snapshot.pk))  # the task delivered again
    again = Snapshot.objects.get(pk=snapshot.pk)
    assert again.finished_at == snapshot.finished_at and again.sha256 == snapshot.sha256
    (delivery,) = WebhookDelivery.objects.filter(event="snapshot.ready")
    assert delivery.payload["id"] == str(snapshot.pk)
    assert delivery.payload["sha256"] == snapshot.sha256
    assert delivery.payload["rows"] == snapshot.rows


def test_progress_rises_while_the_file_is_written(world, monkeypatch):
    project, users, _, _ = world
    seen = []
    record = snapshots._set_progress
    monkeypatch.setattr(snapshots, "_set_progress",
                        lambda snapshot, value: (seen.append(value), record(snapshot, value)))
    snapshot = built(project, users["manager"], format="trl", ties="keep")
    assert snapshot.rows > 10 and len(seen) > 5
    assert seen == sorted(seen) and seen[-1] == snapshots.AFTER_PARQUET
    assert snapshot.progress == 1.0


def test_lost_builds_are_failed_and_unsent_ones_sent_again(world, monkeypatch):
    project, users, _, _ = world
    long_ago = timezone.now() - timedelta(hours=3)
    running = Snapshot.objects.create(project=project, format="trl", status="running",
                                      started_at=long_ago)
    queued = Snapshot.objects.create(project=project, format="trl")
    Snapshot.objects.filter(pk=queued.pk).update(created_at=long_ago)
    fresh = Snapshot.objects.create(project=project, format="trl", status="running",
                                    started_at=timezone.now())
    sent = []
    monkeypatch.setattr(snapshots, "enqueue_on_commit", lambda *args: sent.append(args))
    assert snapshots.sweep() == {"failed": 1, "resent": 1}
    assert Snapshot.objects.get(pk=running.pk).status == "failed"
    assert Snapshot.objects.get(pk=fresh.pk).status == "running"
    assert sent == [(snapshots.TASK, str(queued.pk))]


# --- downloads ------------------------------------------------------------------------------


def test_a_download_is_the_file_with_its_digest_length_and_a_safe_name(world, client_for):
    project, users, _, _ = world
    snapshot = built(project, users["manager"], format="trl")
    client = client_for(users["reviewer"])
    for kind, media in [("jsonl", "application/x-ndjson"),
                        ("parquet", "application/vnd.apache.parquet"),
                        ("card", "text/markdown"), ("manifest", "application/json")]:
        response, body = download(client, project, snapshot, kind)
        assert response.status_code == 200
        assert body == snapshots.file_of(snapshot, kind).read_bytes()
        assert response["Content-Type"].startswith(media)
        assert response["Content-Length"] == str(len(body))
        assert response["Accept-Ranges"] == ("bytes" if kind in ("jsonl", "parquet") else "none")
        assert response["ETag"] == f'"{hashlib.sha256(body).hexdigest()}"'
        name = f"snap-helpfulness-{snapshot.pk.hex[:8]}{SUFFIXES[kind]}"
        assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    response, _ = download(client, project, snapshot, "../../../etc/passwd")
    assert response.status_code == 400


def test_byte_ranges_are_served_as_rfc_9110_says(world, client_for):
    project, users, _, _ = world
    snapshot = built(project, users["manager"], format="trl")
    whole = snapshots.file_of(snapshot, "jsonl").read_bytes()
    size = len(whole)
    client = client_for(users["manager"])
    for header, first, last in [("bytes=0-9", 0, 9), ("bytes=10-", 10, size - 1),
                                ("bytes=-7", size - 7, size - 1),
                                (f"bytes=5-{size + 100}", 5, size - 1)]:
        response, body = download(client, project, snapshot, Range=header)
        assert response.status_code == 206, header
        assert body == whole[first:last + 1]
        assert response["Content-Range"] == f"bytes {first}-{last}/{size}"
        assert response["Content-Length"] == str(last - first + 1)
    response, _ = download(client, project, snapshot, Range=f"bytes={size}-")
    assert response.status_code == 416 and response["Content-Range"] == f"bytes */{size}"
    for ignored in ("bytes=0-1,4-5", "items=0-3", "bytes=9-2", "bytes=x-"):
        response, body = download(client, project, snapshot, Range=ignored)
        assert response.status_code == 200 and body == whole
    card_text = snapshots.file_of(snapshot, "card").read_bytes()
    response, body = download(client, project, snapshot, "card", Range="bytes=0-9")
    assert response.status_code == 200 and body == card_text  # small files: always whole
    response, body = download(client, project, snapshot, Range="bytes=0-9",
                              **{"If-Range": '"old"'})
    assert response.status_code == 200 and body == whole
    response, body = download(client, project, snapshot, Range="bytes=0-9",
                              **{"If-Range": f'"{snapshot.sha256}"'})
    assert response.status_code == 206 and body == whole[:10]


@pytest.mark.parametrize("header, size, expected", [
    (None, 10, None), ("", 10, None), ("bytes=0-0", 10, (0, 0)), ("bytes=3-", 10, (3, 9)),
    ("bytes=-3", 10, (7, 9)), ("bytes=-30", 10, (0, 9)), ("bytes=2-1", 10, None),
    (" bytes=1-2 ", 10, (1, 2)), ("bytes=١-٢", 10, None), ("bytes=0-99999999999999999999", 10,
                                                           (0, 9)),
    ("bytes=10-", 10, Unsatisfiable), ("bytes=-0", 10, Unsatisfiable),
    ("bytes=0-", 0, Unsatisfiable), ("bytes=-5", 0, Unsatisfiable),
])
def test_byte_range(header, size, expected):
    if expected is Unsatisfiable:
        with pytest.raises(Unsatisfiable):
            byte_range(header, size)
    else:
        assert byte_range(header, size) == expected


def test_who_may_create_read_and_download(world, client_for, make_user):
    project, users, _, _ = world
    snapshot = built(project, users["manager"], format="trl")
    other = services.create_project(actor=make_user("other-manager"), name="Other",
                                    responses_per_item=2)
    foreign = Snapshot.objects.create(project=other, format="trl")
    reads = [url(project), url(project, snapshot.pk), url(project, snapshot.pk, "download")]
    expected = {"manager": (200, 202), "staff": (200, 202), "reviewer": (200, 403),
                "annotator": (403, 403), "outsider": (404, 404)}
    for role, (read, create) in expected.items():
        client = client_for(users[role])
        for path in reads:
            assert client.get(path).status_code == read, (role, path)
        answer = client.post(url(project), {"format": "trl"}, format="json")
        assert answer.status_code == create, role
    assert client_for(None).get(reads[0]).status_code == 401
    # Another project's snapshot is not found under this project's id.
    manager = client_for(users["manager"])
    assert manager.get(url(project, foreign.pk)).status_code == 404
    assert manager.get(url(project, foreign.pk, "download")).status_code == 404


def test_the_list_is_newest_first_and_shows_no_files_until_ready(world, client_for):
    project, users, _, _ = world
    ready = built(project, users["manager"], format="trl")
    queued = Snapshot.objects.create(project=project, format="consensus")
    answer = client_for(users["reviewer"]).get(url(project)).json()
    assert [row["id"] for row in answer["results"]] == [str(queued.pk), str(ready.pk)]
    assert answer["results"][0]["download_url"] is None
    assert answer["results"][1]["download_url"].endswith("/download/?file=jsonl")


def test_the_license_setting_is_checked_when_written():
    from annotation.project_settings import InvalidSettings, ProjectSettings

    assert ProjectSettings.parse({}).export.license == "other"
    assert ProjectSettings.parse({"export": {"license": "mit"}}).export.license == "mit"
    for bad in ("", "x" * 65, 3):
        with pytest.raises(InvalidSettings):
            ProjectSettings.parse({"export": {"license": bad}})
