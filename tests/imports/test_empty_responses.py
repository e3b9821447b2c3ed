"""Empty responses are data: a model that answered nothing produced a real output. Every
format imports one as it is, through every way in (JSON body, gzip, multipart, background
job, the command, the upload page); the result counts them; duplicates still work; a
response that is not text is still a bad line, named by its number."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from annotation.imports import formats, jobs, services
from annotation.imports.formats import (
    content_hash,
    hh_rlhf_transcript,
    is_blank,
    parse_hh_rlhf,
    parse_native,
    parse_trl,
)
from annotation.models import Annotation, ImportJob, Item, Response

from .conftest import counts, gz, jsonl, url

USER = {"role": "user", "content": "Where do you live?"}
ASSISTANT = {"role": "assistant", "content": "In a data centre."}
PREFIX = "\n\nHuman: Hi\n\nAssistant: Hello.\n\nHuman: Where do you live?\n\nAssistant:"


def texts(record_or_item) -> list[str]:
    if isinstance(record_or_item, Item):
        return list(record_or_item.responses.order_by("position").values_list("text", flat=True))
    return [response.text for response in record_or_item.responses]


def result(*, created, duplicates=0, imported_labels=0, gold=0, empty_responses) -> dict:
    return {"created": created, "prompts": 0, "duplicates": duplicates, "imported_labels": imported_labels,
            "gold": gold, "empty_responses": empty_responses}


# --- the parsers ---------------------------------------------------------------------------

@pytest.mark.parametrize("value,text", [
    ("", ""),
    ({"text": ""}, ""),
    ({"text": "", "model": "tiny-lm", "id": "r1"}, ""),
    ("  \n\t", "  \n\t"),  # whitespace only: kept exactly as the model wrote it
])
def test_native_keeps_an_empty_response_as_it_is(value, text):
    record = parse_native({"prompt": "Name a prime.", "responses": [value, "7"]}, k=2)
    assert texts(record) == [text, "7"]
    assert record.empty_responses == 1
    if isinstance(value, dict) and "model" in value:
        assert (record.responses[0].model, record.responses[0].external_id) == ("tiny-lm", "r1")


def test_blank_means_no_visible_text():
    assert [is_blank(t) for t in ["", " ", "\n\t\u3000", "a", " a ", "(empty response)"]] \
        == [True, True, True, False, False, False]


def test_hh_rlhf_final_turn_ending_at_the_marker_is_an_empty_response():
    # The rejected transcript stops right at the marker: the whole of it is the shared part.
    line = {"chosen": PREFIX + " I live in a data centre.", "rejected": PREFIX}
    record = parse_hh_rlhf(line)
    assert record.messages == [{"role": "user", "content": "Hi"},
                               {"role": "assistant", "content": "Hello."},
                               {"role": "user", "content": "Where do you live?"}]
    assert texts(record) == ["I live in a data centre.", ""]
    assert record.preference == [[0], [1]]
    assert record.empty_responses == 1
    for position, key in enumerate(("chosen", "rejected")):
        assert hh_rlhf_transcript(messages=record.messages, response=texts(record)[position],
                                  position=position, meta=record.meta) == line[key]


@pytest.mark.parametrize("tail", [" ", "   ", " \n"])
def test_hh_rlhf_whitespace_after_the_marker_is_the_separator(tail):
    line = {"chosen": PREFIX + tail, "rejected": PREFIX + " It is a secret."}
    record = parse_hh_rlhf(line)
    assert texts(record) == ["", "It is a secret."]
    assert record.messages[-1] == {"role": "user", "content": "Where do you live?"}
    for position, key in enumerate(("chosen", "rejected")):
        assert hh_rlhf_transcript(messages=record.messages, response=texts(record)[position],
                                  position=position, meta=record.meta) == line[key]


def test_hh_rlhf_both_sides_empty_is_a_tie_of_two_empty_responses():
    record = parse_hh_rlhf({"chosen": PREFIX + " ", "rejected": PREFIX + " "})
    assert texts(record) == ["", ""]
    assert record.preference == [[0, 1]]
    assert record.empty_responses == 2


@pytest.mark.parametrize("line,expected_messages,expected", [
    ({"prompt": "The sky is", "chosen": "blue", "rejected": ""}, None, ["blue", ""]),
    ({"prompt": "The sky is", "chosen": " ", "rejected": "blue"}, None, [" ", "blue"]),
    ({"prompt": [USER], "chosen": [ASSISTANT], "rejected": [{"role": "assistant", "content": ""}]},
     [USER], [ASSISTANT["content"], ""]),
    ({"chosen": [USER, {"role": "assistant", "content": ""}], "rejected": [USER, ASSISTANT]},
     [USER], ["", ASSISTANT["content"]]),
], ids=["standard", "standard-whitespace", "conversational", "implicit-prompt"])
def test_trl_keeps_an_empty_response(line, expected_messages, expected):
    record = parse_trl(line)
    assert record.messages == expected_messages
    assert texts(record) == expected
    assert record.preference == [[0], [1]]
    assert record.empty_responses == 1


def test_content_hash_tells_an_empty_response_from_any_other():
    def digest(*responses):
        return content_hash(prompt="p", messages=None, responses=list(responses))

    assert digest("", "a") == digest("a", "")  # swapped order: one item
    assert digest("", "a") != digest("b", "a")
    assert digest("", "a") != digest(" ", "a")  # whitespace is kept, so it is content
    assert digest("", "a") != digest("a")
    # The documented hash, computed without the import code.
    canonical = json.dumps({"prompt": "p", "responses": ["", "a"]}, sort_keys=True,
                           separators=(",", ":"))
    assert digest("a", "") == hashlib.sha256(canonical.encode()).hexdigest()


# --- through the API ---------------------------------------------------------------------

NATIVE = [{"prompt": "Name a prime.", "responses": ["", "7"]},
          {"prompt": "Name an even number.", "responses": ["4", {"text": "", "model": "m"}]},
          {"prompt": "Name a colour.", "responses": ["red", "blue"]}]


def post_multipart(client, project, data: bytes, **query):
    upload = io.BytesIO(data)
    upload.name = "items.jsonl"
    return client.post(url(project, **query), {"file": upload}, format="multipart")


@pytest.mark.parametrize("way", ["body", "gzip-body", "multipart", "gzip-multipart"])
def test_every_way_in_imports_empty_responses(project_with_roles, post_import, manager_client,
                                              way):
    project, _ = project_with_roles
    data = jsonl(*NATIVE)
    if way.startswith("gzip"):
        data = gz(data)
    if way.endswith("multipart"):
        response = post_multipart(manager_client, project, data)
    else:
        response = post_import(project, data)
    assert response.status_code == 201, response.content
    assert response.json() == result(created=3, empty_responses=2)
    stored = {item.prompt: texts(item) for item in Item.objects.filter(project=project)}
    assert stored == {"Name a prime.": ["", "7"], "Name an even number.": ["4", ""],
                      "Name a colour.": ["red", "blue"]}
    assert Response.objects.get(item__project=project, text="", position=1).model == "m"


@pytest.mark.parametrize("format,lines,empty,stored", [
    ("hh-rlhf", [{"chosen": PREFIX + " Nowhere.", "rejected": PREFIX},
                 {"chosen": PREFIX + " Here.", "rejected": PREFIX + " There."}],
     1, [["Nowhere.", ""], ["Here.", "There."]]),
    ("trl", [{"prompt": "p", "chosen": "", "rejected": "b"},
             {"prompt": [USER], "chosen": [{"role": "assistant", "content": ""}],
              "rejected": [{"role": "assistant", "content": "  "}]}],
     3, [["", "b"], ["", "  "]]),  # whitespace only counts: nothing visible
])
def test_preference_formats_store_empty_responses_and_their_labels(
        project_with_roles, post_import, format, lines, empty, stored):
    project, _ = project_with_roles
    response = post_import(project, jsonl(*lines), format=format)
    assert response.status_code == 201, response.content
    assert response.json() == result(created=2, imported_labels=2, empty_responses=empty)
    items = Item.objects.filter(project=project).order_by("pk")
    assert [texts(item) for item in items] == stored
    # chosen ≻ rejected, the empty one included
    first = items[0]
    ids = list(first.responses.order_by("position").values_list("pk", flat=True))
    assert Annotation.objects.get(item=first).ranking == [[ids[0]], [ids[1]]]


def test_k3_project_counts_each_empty_response(project_k3, post_import):
    lines = [{"prompt": "a", "responses": ["", " ", "x"]},
             {"prompt": "b", "responses": ["x", "y", "z"]}]
    response = post_import(project_k3, jsonl(*lines))
    assert response.status_code == 201, response.content
    assert response.json() == result(created=2, empty_responses=2)
    assert texts(Item.objects.get(project=project_k3, prompt="a")) == ["", " ", "x"]


# --- duplicates ----------------------------------------------------------------------------

@pytest.fixture(params=["copy", "orm"])
def writer(request, monkeypatch):
    """Both ways rows are written: PostgreSQL's COPY (where the database is PostgreSQL)
    and the portable bulk_create."""
    if request.param == "orm":
        monkeypatch.setattr(services, "is_psycopg3", False)
    return request.param


def test_duplicates_with_empty_responses(project_with_roles, post_import, writer):
    project, _ = project_with_roles
    empty = {"prompt": "p", "responses": ["", "a"]}
    lines = [empty, empty,                                   # the same line twice
             {"prompt": "p", "responses": ["a", ""]},        # the same pair, swapped
             {"prompt": "p", "responses": ["b", "a"]},       # differs only by the empty one
             {"prompt": "p", "responses": [" ", "a"]}]       # whitespace differs from empty
    response = post_import(project, jsonl(*lines))
    assert response.status_code == 201, response.content
    assert response.json() == result(created=3, duplicates=2, empty_responses=2)
    assert sorted(texts(item) for item in Item.objects.filter(project=project)) \
        == [["", "a"], [" ", "a"], ["b", "a"]]
    hashes = set(Item.objects.filter(project=project).values_list("content_hash", flat=True))
    assert hashes == {parse_native(line, k=2).content_hash for line in lines}
    # Sent again: all already in the project, and nothing new is empty.
    again = post_import(project, jsonl(*lines))
    assert again.json() == result(created=0, duplicates=5, empty_responses=0)
    assert counts(project)["items"] == 3


# --- still bad lines -------------------------------------------------------------------------

BAD = [
    ("native", {"prompt": "p", "responses": ["", 5]},
     "responses[1] must be a string or an object with text, not a number."),
    ("native", {"prompt": "p", "responses": [None, "a"]},
     "responses[0] must be a string or an object with text, not null."),
    ("native", {"prompt": "p", "responses": [{"text": None}, "a"]},
     "responses[0].text must be a string, not null."),
    ("native", {"prompt": "p", "responses": [{"model": "m"}, ""]}, "responses[0].text is missing."),
    ("native", {"prompt": "p", "responses": [""]}, "Expected 2 responses (the project's K), got 1."),
    ("native", {"prompt": "p", "responses": ["", ""]},
     "responses[1] has the same text as responses[0]."),
    ("hh-rlhf", {"chosen": PREFIX, "rejected": None},
     "rejected must be a transcript string, not null."),
    ("hh-rlhf", {"chosen": PREFIX}, "rejected is missing."),
    ("trl", {"prompt": "p", "chosen": "", "rejected": 0},
     "prompt, chosen and rejected must all be strings (standard) or all be lists of messages "
     "(conversational)."),
    ("trl", {"prompt": [USER], "chosen": [{"role": "assistant", "content": None}],
             "rejected": [ASSISTANT]},
     "chosen[0].content must be a string, not null."),
]
GOOD = {
    "native": {"prompt": "q", "responses": ["", "fine"]},
    "hh-rlhf": {"chosen": PREFIX + " ", "rejected": PREFIX + " Here."},
    "trl": {"prompt": "q", "chosen": "fine", "rejected": ""},
}


@pytest.mark.parametrize("format,bad,message", BAD, ids=[f"{c[0]}-{i}" for i, c in enumerate(BAD)])
def test_a_response_that_is_not_text_is_still_a_bad_line(project_with_roles, post_import, format,
                                                         bad, message):
    project, _ = project_with_roles
    # Line 1 has an empty response and is fine; line 3 (after a blank line) is the bad one.
    response = post_import(project, jsonl(GOOD[format], "", bad, GOOD[format]), format=format)
    assert response.status_code == 400, response.content
    assert response.json() == {"detail": "1 line is invalid; nothing was imported.",
                               "errors": [{"line": 3, "message": message}]}
    assert counts(project) == {"items": 0, "responses": 0, "annotations": 0}


# --- background jobs, the command, the upload page ---------------------------------------

def test_async_import_reports_empty_responses(project_with_roles, post_import, manager_client,
                                              settings, tmp_path,
                                              django_capture_on_commit_callbacks):
    project, _ = project_with_roles
    settings.DATA_DIR = tmp_path
    with django_capture_on_commit_callbacks(execute=True):
        response = post_import(project, gz(jsonl(*NATIVE)), **{"async": "1"})
    assert response.status_code == 202, response.content
    status = manager_client.get(url(project) + f"{response.json()['id']}/").json()
    assert status["status"] == "done", status
    assert status["result"] == result(created=3, empty_responses=2)
    assert ImportJob.objects.get(pk=status["id"]).result == status["result"]


def test_a_job_run_by_a_worker_records_the_count(project_with_roles, settings, tmp_path):
    project, users = project_with_roles
    settings.DATA_DIR = tmp_path
    body = jsonl({"prompt": "p", "chosen": "", "rejected": "b"},
                 {"prompt": "q", "chosen": "a", "rejected": ""})
    job = jobs.submit(actor=users["manager"], project=project, source=io.BytesIO(body),
                      format="trl", labels=None)
    jobs.run(str(job.pk))
    row = ImportJob.objects.get(pk=job.pk)
    assert row.status == ImportJob.Status.DONE
    assert row.result == result(created=2, imported_labels=2, empty_responses=2)


def test_the_command_reports_empty_responses(project_with_roles, tmp_path):
    project, _ = project_with_roles
    path = tmp_path / "items.jsonl.gz"
    path.write_bytes(gz(jsonl(NATIVE[0], NATIVE[2])))
    out = io.StringIO()
    call_command("import_items", str(project.pk), str(path), "--no-progress", stdout=out,
                 stderr=io.StringIO())
    first, summary = out.getvalue().splitlines()[:2]
    assert json.loads(first) == result(created=2, empty_responses=1)
    assert summary.endswith("0 gold, 1 empty response.")
    assert texts(Item.objects.get(project=project, prompt="Name a prime.")) == ["", "7"]


def test_the_upload_page_shows_the_count(project_with_roles):
    project, users = project_with_roles
    client = Client()
    client.force_login(users["manager"])
    upload = SimpleUploadedFile("items.jsonl", jsonl(*NATIVE),
                                content_type="application/octet-stream")
    response = client.post(f"/projects/{project.pk}/import/",
                           {"file": upload, "format": "native", "labels": ""})
    assert response.status_code == 200
    assert response.context["result"] == result(created=3, empty_responses=2)
    assert b'id="empty-responses">2<' in response.content


def test_every_parser_accepts_empty_text_where_a_response_goes():
    """One empty response per format, so a format added later is held to the same rule."""
    lines = {
        "native": {"prompt": "p", "responses": ["", "a"]},
        "hh-rlhf": {"chosen": PREFIX, "rejected": PREFIX + " a"},
        "trl": {"prompt": "p", "chosen": "", "rejected": "a"},
    }
    # prompts lines hold no responses at all (tests/training_django/test_policy_loop.py).
    assert set(lines) == set(formats.PARSERS) - formats.PROMPTS_ONLY
    for name, line in lines.items():
        assert formats.PARSERS[name](line, k=2).empty_responses == 1, name
