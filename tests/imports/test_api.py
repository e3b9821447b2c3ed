"""The import endpoint: formats, labels, gold, duplicates, bodies, limits, all-or-nothing."""

from __future__ import annotations

import gzip
import io
import json

import pytest

from annotation.models import Annotation, AuditLog, ImportJob, Item, Response

from .conftest import counts, gz, jsonl, url

HH = {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello", "rejected": "\n\nHuman: Hi\n\nAssistant: Go."}


def texts(item):
    return [r.text for r in item.responses.order_by("position")]


def response_ids(item):
    return list(item.responses.order_by("position").values_list("id", flat=True))


# --- formats -----------------------------------------------------------------------------

def test_native_import_stores_items_responses_and_meta(project_with_roles, post_import):
    project, users = project_with_roles
    body = jsonl(
        {"prompt": "Name a prime.", "responses": ["7", {"text": "9", "model": "lm-1", "id": "r9"}],
         "meta": {"topic": "maths", "émoji": "✓"}},
        {"messages": [{"role": "System", "content": "Be brief."},
                      {"role": "user", "content": "Hi"}],
         "responses": ["Hello", "Hey"]},
    )
    response = post_import(project, body, format="native")
    assert response.status_code == 201, response.content
    assert response.json() == {"created": 2, "prompts": 0, "duplicates": 0, "imported_labels": 0, "gold": 0,
                               "empty_responses": 0}
    first, second = Item.objects.filter(project=project).order_by("id")
    assert (first.prompt, first.messages, first.meta) == (
        "Name a prime.", None, {"topic": "maths", "émoji": "✓"})
    assert [(r.position, r.text, r.model, r.external_id) for r in first.responses.all()] == [
        (0, "7", "", ""), (1, "9", "lm-1", "r9")]
    assert second.prompt == "" and second.messages == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert texts(second) == ["Hello", "Hey"]
    assert not first.is_gold and first.imported_labels == 0
    log = AuditLog.objects.get(project=project, action="items.import")
    assert log.actor == users["manager"]
    assert log.data == {"format": "native", "labels": "none", "lines": 2, "created": 2,
                        "prompts": 0, "duplicates": 0, "imported_labels": 0, "gold": 0, "empty_responses": 0}


def test_hh_rlhf_import_stores_the_preference_as_an_import_annotation(project_with_roles,
                                                                      post_import):
    project, _ = project_with_roles
    response = post_import(project, jsonl(HH), format="hh-rlhf")
    assert response.status_code == 201, response.content
    assert response.json() == {"created": 1, "prompts": 0, "duplicates": 0, "imported_labels": 1, "gold": 0,
                               "empty_responses": 0}
    item = Item.objects.get(project=project)
    assert item.messages == [{"role": "user", "content": "Hi"}]
    assert texts(item) == ["Hello", "Go."]
    chosen, rejected = response_ids(item)
    annotation = Annotation.objects.get(item=item)
    assert annotation.source == "import" and annotation.annotator is None
    assert annotation.assignment is None and annotation.project == project
    assert annotation.ranking == [[chosen], [rejected]]
    # An imported label seeds consensus but is no human annotation towards the overlap.
    assert item.imported_labels == 1 and item.annotations_done == 0


def test_labels_none_imports_prompts_and_responses_only(project_with_roles, post_import):
    project, _ = project_with_roles
    response = post_import(project, jsonl(HH), format="hh-rlhf", labels="none")
    assert response.json() == {"created": 1, "prompts": 0, "duplicates": 0, "imported_labels": 0, "gold": 0,
                               "empty_responses": 0}
    assert counts(project) == {"items": 1, "responses": 2, "annotations": 0}
    assert Item.objects.get(project=project).imported_labels == 0


def test_trl_standard_conversational_and_implicit_in_one_file(project_with_roles, post_import):
    project, _ = project_with_roles
    user = {"role": "user", "content": "Sky?"}
    body = jsonl(
        {"prompt": "The sky is", "chosen": "blue", "rejected": "green"},
        {"prompt": [user], "chosen": [{"role": "assistant", "content": "Blue."}],
         "rejected": [{"role": "assistant", "content": "Green."}]},
        {"chosen": [user, {"role": "assistant", "content": "Azure."}],
         "rejected": [user, {"role": "assistant", "content": "Red."}]},
    )
    response = post_import(project, body, format="trl")
    assert response.status_code == 201, response.content
    assert response.json() == {"created": 3, "prompts": 0, "duplicates": 0, "imported_labels": 3, "gold": 0,
                               "empty_responses": 0}
    standard, conversational, implicit = Item.objects.filter(project=project).order_by("id")
    assert standard.prompt == "The sky is" and standard.messages is None
    assert conversational.messages == [user] and implicit.messages == [user]
    assert texts(implicit) == ["Azure.", "Red."]
    for item in (standard, conversational, implicit):
        chosen, rejected = response_ids(item)
        assert item.annotations.get().ranking == [[chosen], [rejected]]


def test_identical_sides_are_imported_as_a_tie(project_with_roles, post_import):
    project, _ = project_with_roles
    same = "\n\nHuman: Hi\n\nAssistant: Hello"
    post_import(project, jsonl({"chosen": same, "rejected": same}), format="hh-rlhf")
    item = Item.objects.get(project=project)
    assert item.annotations.get().ranking == [response_ids(item)]


def test_native_labels_imported_has_nothing_to_import(project_with_roles, post_import):
    project, _ = project_with_roles
    response = post_import(project, jsonl({"prompt": "p", "responses": ["a", "b"]}),
                           format="native", labels="imported")
    assert response.json() == {"created": 1, "prompts": 0, "duplicates": 0, "imported_labels": 0, "gold": 0,
                               "empty_responses": 0}


def test_gold_lines_become_gold_items_ranked_by_response_id(project_k3, client_for,
                                                           project_with_roles):
    _, users = project_with_roles
    body = jsonl(
        {"prompt": "Best?", "responses": ["a", "b", "c"], "gold": {"ranking": [[2], [0, 1]]}},
        {"prompt": "Plain", "responses": ["x", "y", "z"]},
    )
    response = client_for(users["manager"]).post(url(project_k3), data=body,
                                                 content_type="application/x-ndjson")
    assert response.status_code == 201, response.content
    assert response.json() == {"created": 2, "prompts": 0, "duplicates": 0, "imported_labels": 0, "gold": 1,
                               "empty_responses": 0}
    gold, plain = Item.objects.filter(project=project_k3).order_by("id")
    a, b, c = response_ids(gold)
    assert gold.is_gold and gold.gold_ranking == [[c], [a, b]]
    assert not plain.is_gold and plain.gold_ranking is None


# --- duplicates --------------------------------------------------------------------------

def test_duplicates_within_a_file_including_swapped_order(project_with_roles, post_import):
    project, _ = project_with_roles
    swapped = {"chosen": HH["rejected"], "rejected": HH["chosen"]}
    response = post_import(project, jsonl(HH, HH, swapped), format="hh-rlhf")
    assert response.json() == {"created": 1, "prompts": 0, "duplicates": 2, "imported_labels": 1, "gold": 0,
                               "empty_responses": 0}
    item = Item.objects.get(project=project)
    chosen, rejected = response_ids(item)
    # The first occurrence wins, its preference included.
    assert texts(item) == ["Hello", "Go."]
    assert item.annotations.get().ranking == [[chosen], [rejected]]


def test_duplicates_across_imports_are_not_stored_again(project_with_roles, post_import):
    project, _ = project_with_roles
    native = {"prompt": "p", "responses": ["a", "b"]}
    assert post_import(project, jsonl(native, HH), format="native").status_code == 400
    first = post_import(project, jsonl(HH), format="hh-rlhf")
    assert first.json()["created"] == 1
    before = counts(project)
    second = post_import(project, jsonl({"chosen": HH["rejected"], "rejected": HH["chosen"]},
                                        {"chosen": "\n\nHuman: New\n\nAssistant: a",
                                         "rejected": "\n\nHuman: New\n\nAssistant: b"}),
                         format="hh-rlhf")
    assert second.json() == {"created": 1, "prompts": 0, "duplicates": 1, "imported_labels": 1, "gold": 0,
                             "empty_responses": 0}
    assert counts(project) == {key: value + (2 if key == "responses" else 1)
                               for key, value in before.items()}


def test_the_same_content_in_another_project_is_not_a_duplicate(project_with_roles, post_import,
                                                                 project_k3):
    project, users = project_with_roles
    from annotation import services

    other = services.create_project(actor=users["manager"], name="Other", responses_per_item=2)
    assert post_import(project, jsonl(HH), format="hh-rlhf").json()["created"] == 1
    assert post_import(other, jsonl(HH), format="hh-rlhf").json()["created"] == 1


# --- options -----------------------------------------------------------------------------

@pytest.mark.parametrize("format", ["hh-rlhf", "trl"])
def test_pair_formats_need_k_2(project_k3, project_with_roles, client_for, format):
    _, users = project_with_roles
    response = client_for(users["manager"]).post(url(project_k3, format=format),
                                                 data=jsonl(HH), content_type="application/x-ndjson")
    assert response.status_code == 400
    body = response.json()
    assert body["errors"] == [{"field": "format", "message": (
        f"{format} lines hold 2 responses, but this project ranks 3 responses per item (K). "
        "Use format native.")}]
    assert body["detail"].startswith("format: ")
    assert Item.objects.filter(project=project_k3).count() == 0


@pytest.mark.parametrize("query,field", [({"format": "csv"}, "format"),
                                         ({"format": "trl", "labels": "some"}, "labels")])
def test_unknown_format_or_labels_names_the_field(project_with_roles, post_import, query, field):
    project, _ = project_with_roles
    response = post_import(project, jsonl(HH), **query)
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == [field]


def test_format_defaults_to_native(project_with_roles, post_import):
    project, _ = project_with_roles
    response = post_import(project, jsonl({"prompt": "p", "responses": ["a", "b"]}))
    assert response.status_code == 201


# --- bodies ------------------------------------------------------------------------------

@pytest.mark.parametrize("content_type", ["application/x-ndjson", "application/jsonl",
                                          "application/json", "text/plain; charset=utf-8",
                                          "application/gzip"])
def test_gzip_body_is_recognised_by_its_bytes(project_with_roles, post_import, content_type):
    project, _ = project_with_roles
    response = post_import(project, gz(jsonl(HH)), format="hh-rlhf", content_type=content_type)
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 1


@pytest.mark.parametrize("compress", [False, True])
def test_multipart_file(project_with_roles, manager_client, compress):
    project, _ = project_with_roles
    data = jsonl(HH)
    upload = io.BytesIO(gz(data) if compress else data)
    upload.name = "pairs.bin"  # the name says nothing; the bytes do
    response = manager_client.post(url(project, format="hh-rlhf"), {"file": upload},
                                   format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 1


def test_multipart_without_file_field(project_with_roles, manager_client):
    project, _ = project_with_roles
    response = manager_client.post(url(project), {"other": "x"}, format="multipart")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "file"


def test_unsupported_content_type(project_with_roles, post_import):
    project, _ = project_with_roles
    response = post_import(project, jsonl(HH), format="hh-rlhf", content_type="text/csv")
    assert response.status_code == 415
    assert "application/x-ndjson" in response.json()["detail"]


@pytest.mark.parametrize("body", [b"", b"\n\n  \n"])
def test_empty_body(project_with_roles, post_import, body):
    project, _ = project_with_roles
    response = post_import(project, body)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "file",
                                          "message": "There are no lines to import."}]


def test_corrupt_gzip(project_with_roles, post_import):
    project, _ = project_with_roles
    response = post_import(project, gz(jsonl(HH))[:-12] + b"garbage!", format="hh-rlhf")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "file"
    assert "cannot be decompressed" in response.json()["detail"]


def test_crlf_bom_and_blank_lines_keep_file_line_numbers(project_with_roles, post_import):
    project, _ = project_with_roles
    body = (b"\xef\xbb\xbf" + json.dumps({"prompt": "p", "responses": ["a", "b"]}).encode()
            + b"\r\n\r\n" + b'{"prompt": 1}\r\n')
    response = post_import(project, body)
    assert response.json()["errors"] == [{"line": 3, "message":
                                          "prompt must be a string, not a number."}]


def test_raw_body_larger_than_djangos_request_limit(project_with_roles, post_import, settings):
    # request.body would refuse this (DATA_UPLOAD_MAX_MEMORY_SIZE); the import streams it.
    project, _ = project_with_roles
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = jsonl(*({"prompt": f"p{i}", "responses": ["a" * 100, "b" * 100]} for i in range(300)))
    assert len(body) > 5 * settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = post_import(project, body)
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 300


# --- limits ------------------------------------------------------------------------------

def test_byte_limit_is_413(project_with_roles, post_import, settings):
    project, _ = project_with_roles
    settings.IMPORT_MAX_BYTES = 1000
    body = jsonl(*({"prompt": f"p{i}", "responses": ["a", "b"]} for i in range(50)))
    response = post_import(project, body)
    assert response.status_code == 413
    assert response.json()["detail"].startswith("The data is larger than 1,000 bytes")
    assert counts(project)["items"] == 0


def test_byte_limit_applies_after_decompression(project_with_roles, post_import, settings):
    # 64 MB of blank lines gzip to about 64 kB: a bomb must stop at the limit, not in memory.
    project, _ = project_with_roles
    settings.IMPORT_MAX_BYTES = 1_000_000
    bomb = gzip.compress(b"\n" * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < settings.IMPORT_MAX_BYTES
    response = post_import(project, bomb)
    assert response.status_code == 413


def test_line_limit(project_with_roles, post_import, settings):
    project, _ = project_with_roles
    settings.IMPORT_MAX_LINES = 2
    lines = [{"prompt": f"p{i}", "responses": ["a", "b"]} for i in range(3)]
    assert post_import(project, jsonl(lines[0], "", lines[1])).status_code == 201
    response = post_import(project, jsonl(*lines))
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "file", "message": (
        "The data has more than 2 lines. Split the file or raise RANKWISE_IMPORT_MAX_LINES.")}]


def test_error_list_is_capped_but_the_count_is_exact(project_with_roles, post_import, settings):
    project, _ = project_with_roles
    settings.IMPORT_MAX_ERRORS = 3
    body = jsonl(*([{"prompt": 1}] * 5))
    response = post_import(project, body)
    assert response.status_code == 400
    assert response.json()["detail"] == "5 lines are invalid; nothing was imported."
    assert [e["line"] for e in response.json()["errors"]] == [1, 2, 3]


# --- all or nothing ----------------------------------------------------------------------

def test_one_corrupted_line_stores_nothing(project_with_roles, post_import):
    project, _ = project_with_roles
    post_import(project, jsonl({"chosen": "\n\nHuman: Old\n\nAssistant: a",
                                "rejected": "\n\nHuman: Old\n\nAssistant: b"}), format="hh-rlhf")
    before = counts(project)
    assert before == {"items": 1, "responses": 2, "annotations": 1}
    good = [{"chosen": f"\n\nHuman: q{i}\n\nAssistant: a", "rejected":
             f"\n\nHuman: q{i}\n\nAssistant: b"} for i in range(20)]
    response = post_import(project, jsonl(*good[:10], '{"chosen": "broken', *good[10:]),
                           format="hh-rlhf")
    assert response.status_code == 400
    assert [e["line"] for e in response.json()["errors"]] == [11]
    assert counts(project) == before
    assert not AuditLog.objects.filter(project=project, action="items.import",
                                       data__lines=21).exists()


def test_content_added_behind_the_imports_back_is_a_409_not_a_500(project_with_roles,
                                                                  post_import, monkeypatch):
    # Imports into one project queue on its row lock; only a writer that skips that lock can
    # add the same content between the duplicate check and the insert. Simulate one by
    # making the check miss an item that is already there.
    from annotation.imports import services

    project, _ = project_with_roles
    assert post_import(project, jsonl(HH), format="hh-rlhf").status_code == 201
    before = counts(project)
    monkeypatch.setattr(services, "_existing_hashes", lambda **kwargs: set())
    response = post_import(project, jsonl(HH), format="hh-rlhf")
    assert response.status_code == 409
    assert response.json()["detail"].startswith("Items with the same content were added")
    assert counts(project) == before


# --- the published HH-RLHF harmless-base test split ------------------------------------

def independent_hash(chosen: str, rejected: str) -> str:
    """The documented content hash, computed here without the import code."""
    import hashlib
    import os
    import re

    marker = "\n\nAssistant:"
    shared = len(os.path.commonprefix([chosen, rejected]))
    cut = chosen.rindex(marker, 0, shared) + len(marker)
    turns = re.findall(r"\n\n(Human|Assistant): ?(.*?)(?=\n\n(?:Human|Assistant):|\Z)",
                       chosen[: cut - len(marker)], flags=re.S)
    messages = [{"role": "user" if who == "Human" else "assistant", "content": text}
                for who, text in turns]
    responses = sorted([chosen[cut:].lstrip(), rejected[cut:].lstrip()])
    canonical = json.dumps({"messages": messages, "responses": responses}, ensure_ascii=False,
                           sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@pytest.mark.slow
def test_real_hh_rlhf_file_imports_every_distinct_pair(project_with_roles, post_import,
                                                       hh_rlhf_path, hh_rlhf_lines):
    project, _ = project_with_roles
    expected = {independent_hash(line["chosen"], line["rejected"]) for line in hh_rlhf_lines}
    response = post_import(project, hh_rlhf_path.read_bytes(), format="hh-rlhf")
    assert response.status_code == 201, response.content[:500]
    result = response.json()
    assert result["created"] + result["duplicates"] == 2312
    assert result["created"] == len(expected)
    assert result["imported_labels"] == result["created"]
    assert set(Item.objects.filter(project=project).values_list("content_hash", flat=True)) \
        == expected
    assert counts(project) == {"items": len(expected), "responses": 2 * len(expected),
                               "annotations": len(expected)}
    # Line 87 of the split has an empty chosen response; it is imported as it is.
    first_empty = Item.objects.filter(project=project, responses__position=0,
                                      responses__text="").count()
    assert first_empty >= 1
    # hh-rlhf responses lose their leading whitespace to the separator, so blank is "".
    assert result["empty_responses"] == Response.objects.filter(item__project=project,
                                                                text="").count()


@pytest.mark.slow
@pytest.mark.parametrize("corruption,message", [
    ('{"chosen": 1}', "chosen must be a transcript string, not a number."),
    ('{"chosen": "\\n\\nHuman: broken', "Invalid JSON: Unterminated string starting at: "
                                        "column 12."),
])
def test_real_file_with_one_corrupted_line_stores_nothing(project_with_roles, post_import,
                                                          hh_rlhf_path, corruption, message):
    project, _ = project_with_roles
    lines = gzip.decompress(hh_rlhf_path.read_bytes()).split(b"\n")
    lines[999] = corruption.encode()
    response = post_import(project, gzip.compress(b"\n".join(lines)), format="hh-rlhf")
    assert response.status_code == 400
    assert response.json() == {"detail": "1 line is invalid; nothing was imported.",
                               "errors": [{"line": 1000, "message": message}]}
    assert counts(project) == {"items": 0, "responses": 0, "annotations": 0}


# --- permissions and schema --------------------------------------------------------------

@pytest.mark.parametrize("role,status", [("anonymous", 401), ("outsider", 404),
                                         ("annotator", 403), ("reviewer", 403),
                                         ("manager", 201), ("staff", 201)])
def test_only_managers_import(project_with_roles, client_for, role, status):
    project, users = project_with_roles
    client = client_for(None if role == "anonymous" else users[role])
    response = client.post(url(project, format="hh-rlhf"), data=jsonl(HH),
                           content_type="application/x-ndjson")
    assert response.status_code == status
    assert counts(project)["items"] == (1 if status == 201 else 0)


def test_schema_documents_the_import(project_with_roles, manager_client):
    response = manager_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    operation = schema["paths"]["/api/v1/projects/{id}/items/import/"]["post"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert set(parameters["format"]["schema"]["enum"]) == {"native", "hh-rlhf", "trl", "prompts"}
    assert set(parameters["labels"]["schema"]["enum"]) == {"imported", "none"}
    assert set(operation["requestBody"]["content"]) == {"application/x-ndjson",
                                                         "multipart/form-data"}
    assert {"201", "202", "400", "413"} <= set(operation["responses"])


# --- background imports ------------------------------------------------------------------

JOB_KEYS = {"id", "project", "status", "format", "labels", "created_at", "started_at",
            "finished_at", "result", "detail", "errors"}


def test_async_import_runs_in_a_worker_and_reports(project_with_roles, post_import,
                                                   manager_client, settings, tmp_path,
                                                   django_capture_on_commit_callbacks):
    project, users = project_with_roles
    settings.DATA_DIR = tmp_path
    # Celery runs eagerly in tests; the task is sent once the job's row is committed.
    with django_capture_on_commit_callbacks(execute=True) as sent:
        response = post_import(project, gz(jsonl(HH)), format="hh-rlhf", **{"async": "1"})
    assert response.status_code == 202, response.content
    assert len(sent) == 1
    job = response.json()
    assert set(job) == JOB_KEYS
    assert job["project"] == project.pk
    assert job["format"] == "hh-rlhf" and job["labels"] == "imported"
    status = manager_client.get(url(project) + f"{job['id']}/")
    assert status.status_code == 200
    assert set(status.json()) == JOB_KEYS
    assert status.json()["status"] == "done"
    assert status.json()["result"] == {"created": 1, "prompts": 0, "duplicates": 0, "imported_labels": 1,
                                       "gold": 0, "empty_responses": 0}
    assert status.json()["detail"] == "" and status.json()["errors"] == []
    row = ImportJob.objects.get(pk=job["id"])
    assert row.status == ImportJob.Status.DONE
    assert row.result == status.json()["result"]
    assert row.created_by == users["manager"]
    assert row.created_at <= row.started_at <= row.finished_at
    assert status.json()["created_at"] == row.created_at.isoformat()
    assert status.json()["finished_at"] == row.finished_at.isoformat()
    assert counts(project)["items"] == 1
    assert not list((tmp_path / "imports").iterdir())  # the upload is gone


def test_async_import_with_a_bad_line_reports_it(project_with_roles, post_import,
                                                 manager_client, settings, tmp_path,
                                                 django_capture_on_commit_callbacks):
    project, _ = project_with_roles
    settings.DATA_DIR = tmp_path
    with django_capture_on_commit_callbacks(execute=True):
        job = post_import(project, jsonl(HH, {"chosen": 1}), format="hh-rlhf",
                          **{"async": "true"}).json()
    status = manager_client.get(url(project) + f"{job['id']}/").json()
    assert status["status"] == "failed"
    assert status["detail"] == "1 line is invalid; nothing was imported."
    assert status["errors"] == [{"line": 2, "message":
                                 "chosen must be a transcript string, not a number."}]
    assert status["result"] is None
    row = ImportJob.objects.get(pk=job["id"])
    assert (row.status, row.detail, row.errors) == ("failed", status["detail"], status["errors"])
    assert counts(project)["items"] == 0
    assert not list((tmp_path / "imports").iterdir())


def test_async_import_answers_queued_until_a_worker_runs_it(project_with_roles, post_import,
                                                            manager_client, settings,
                                                            tmp_path,
                                                            django_capture_on_commit_callbacks):
    project, _ = project_with_roles
    settings.DATA_DIR = tmp_path
    with django_capture_on_commit_callbacks(execute=False) as sent:
        response = post_import(project, jsonl(HH), format="hh-rlhf", **{"async": "1"})
    assert response.status_code == 202
    job = response.json()
    assert (job["status"], job["started_at"], job["finished_at"], job["result"]) \
        == ("queued", None, None, None)
    assert manager_client.get(url(project) + f"{job['id']}/").json() == job
    assert [p.name for p in (tmp_path / "imports").iterdir()] \
        == [ImportJob.objects.get(pk=job["id"]).upload_name]
    assert len(sent) == 1
    sent[0]()  # the worker picks it up
    assert manager_client.get(url(project) + f"{job['id']}/").json()["status"] == "done"


def test_async_import_of_nothing_stores_no_job(project_with_roles, post_import, settings,
                                               tmp_path):
    project, _ = project_with_roles
    settings.DATA_DIR = tmp_path
    response = post_import(project, b"", format="hh-rlhf", **{"async": "1"})
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "file",
                                          "message": "There are no lines to import."}]
    assert not ImportJob.objects.exists()
    assert not list((tmp_path / "imports").iterdir())


def test_async_job_is_private_to_its_project(project_with_roles, post_import, client_for,
                                             settings, tmp_path):
    project, users = project_with_roles
    from annotation import services

    settings.DATA_DIR = tmp_path
    job = post_import(project, jsonl(HH), format="hh-rlhf", **{"async": "1"}).json()
    other = services.create_project(actor=users["manager"], name="Other")
    manager = client_for(users["manager"])
    assert manager.get(f"/api/v1/projects/{other.pk}/items/import/{job['id']}/").status_code \
        == 404
    annotator = client_for(users["annotator"])
    assert annotator.get(url(project) + f"{job['id']}/").status_code == 403
    unknown = manager.get(url(project) + "00000000-0000-4000-8000-000000000000/")
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "No such import."
