"""Round trips: import an hh-rlhf or trl file with its labels, export it in the same format,
import the export into a fresh project: the same items (content hashes) with the same
preferences. The hh-rlhf file is the published harmless-base test split."""

from __future__ import annotations

import gzip
import json

import pytest

from annotation import services
from annotation.models import Annotation, Item, Response

from .test_export_api import body_of, url

pytestmark = pytest.mark.django_db


def import_file(client, project, body: bytes, format: str):
    got = client.post(f"/api/v1/projects/{project.pk}/items/import/?format={format}",
                      data=body, content_type="application/x-ndjson")
    assert got.status_code == 201, got.content
    return got.json()


def preferences(project) -> dict[str, list[list[str]]]:
    """content hash → the imported label's ranking as tiers of response texts."""
    texts = dict(Response.objects.filter(item__project=project).values_list("pk", "text"))
    hashes = dict(Item.objects.filter(project=project).values_list("pk", "content_hash"))
    out = {}
    for item_id, ranking in Annotation.objects.filter(project=project).values_list(
            "item_id", "ranking"):
        assert hashes[item_id] not in out
        out[hashes[item_id]] = [sorted(texts[rid] for rid in tier) for tier in ranking]
    return out


def fresh_project(manager, name):
    return services.create_project(actor=manager, name=name, responses_per_item=2)


def test_hh_rlhf_round_trip_of_the_published_file(make_user, client_for, hh_rlhf_path,
                                                  hh_rlhf_lines):
    manager = make_user("rt-manager")
    client = client_for(manager)
    first, second = fresh_project(manager, "hh one"), fresh_project(manager, "hh two")
    result = import_file(client, first, hh_rlhf_path.read_bytes(), "hh-rlhf")
    assert result["created"] + result["duplicates"] == len(hh_rlhf_lines)
    exported = body_of(client.get(url(first, format="hh-rlhf", compress="gzip")))
    rows = [json.loads(line) for line in gzip.decompress(exported).splitlines()]
    assert len(rows) == result["created"]
    # One imported label per line, chosen first: the export gives the lines back verbatim.
    originals = {json.dumps(line, sort_keys=True) for line in hh_rlhf_lines}
    assert {json.dumps(row, sort_keys=True) for row in rows} == originals
    again = import_file(client, second, exported, "hh-rlhf")
    assert (again["created"], again["duplicates"]) == (result["created"], 0)
    assert preferences(second) == preferences(first)
    assert len(preferences(first)) == result["created"]


def trl_lines() -> list[dict]:
    system = {"role": "system", "content": "You are terse."}
    return [
        {"prompt": "Name a prime.", "chosen": "7", "rejected": "9"},
        {"prompt": "Unicode ✓ — «quotes»", "chosen": "Ça va\nbien", "rejected": ""},
        {"prompt": "Spaces", "chosen": "  leading and trailing  ", "rejected": "\ttab"},
        {"prompt": [system, {"role": "user", "content": "Hi"}],
         "chosen": [{"role": "assistant", "content": "Hello."}],
         "rejected": [{"role": "assistant", "content": "What do you want?"}]},
        {"prompt": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"},
                    {"role": "user", "content": "And 3+3?"}],
         "chosen": [{"role": "assistant", "content": "6"}],
         "rejected": [{"role": "assistant", "content": "7"}]},
        # The implicit-prompt form: two whole conversations sharing all but the last reply.
        {"chosen": [{"role": "user", "content": "Implicit"},
                    {"role": "assistant", "content": "yes"}],
         "rejected": [{"role": "user", "content": "Implicit"},
                      {"role": "assistant", "content": "no"}]},
        # A choice between identical texts is a tie.
        {"prompt": "Same", "chosen": "both", "rejected": "both"},
        # The same pair in the other order is the same item (a duplicate).
        {"prompt": "Name a prime.", "chosen": "9", "rejected": "7"},
    ]


def test_trl_round_trip_standard_and_conversational(make_user, client_for):
    from trl.data_utils import is_conversational

    manager = make_user("rt-trl-manager")
    client = client_for(manager)
    first, second = fresh_project(manager, "trl one"), fresh_project(manager, "trl two")
    body = "".join(json.dumps(line) + "\n" for line in trl_lines()).encode()
    result = import_file(client, first, body, "trl")
    assert (result["created"], result["duplicates"]) == (7, 1)
    exported = body_of(client.get(url(first, format="trl", ties="keep")))
    rows = [json.loads(line) for line in exported.splitlines()]
    assert len(rows) == 7
    assert [is_conversational(row) for row in rows] == [False] * 3 + [True] * 3 + [False]
    again = import_file(client, second, exported, "trl")
    assert (again["created"], again["duplicates"]) == (7, 0)
    assert preferences(second) == preferences(first)
    hashes = set(Item.objects.filter(project=first).values_list("content_hash", flat=True))
    assert set(Item.objects.filter(project=second).values_list("content_hash",
                                                               flat=True)) == hashes
    # Without ties the tied item is not exported, and only it is missing.
    dropped = [json.loads(line) for line in body_of(client.get(url(first))).splitlines()]
    assert len(dropped) == 6 and all(row["prompt"] != "Same" for row in dropped)
