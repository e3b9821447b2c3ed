"""Annotators never see gold answers, that an item is gold, or other people's labels."""

from __future__ import annotations

import json

from annotation.models import Annotation, Item

from .conftest import add_items, ranking_for


def _walk(value):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _walk(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _walk(inner)


def test_no_payload_reveals_gold_or_other_labels(make_project, make_annotators, client_for):
    project = make_project(overlap=2, gold_rate=1.0, responses_per_item=3)
    add_items(project, 10)
    gold = add_items(project, 5, gold=True, start=100)
    alice, bob = make_annotators(project, 2)
    # Bob labels first, with rationales that must never reach Alice.
    bob_client = client_for(bob)
    while (task := bob_client.get(f"/api/v1/projects/{project.pk}/next/")).status_code == 200:
        bob_client.post(f"/api/v1/assignments/{task.json()['assignment']}/submit/",
                        {"ranking": ranking_for(task.json()), "rationale": "BOB-SECRET"},
                        format="json")
    gold_rankings = {json.dumps(item.gold_ranking) for item in Item.objects.filter(is_gold=True)}
    client = client_for(alice)
    served_gold = 0
    while (answer := client.get(f"/api/v1/projects/{project.pk}/next/")).status_code == 200:
        text = answer.content.decode()
        task = answer.json()
        keys = set(_walk(task))
        assert not keys & {"is_gold", "gold_ranking", "gold", "annotations", "annotations_done",
                           "leases_live", "rationale", "ranking", "uncertainty", "meta"}
        assert "BOB-SECRET" not in text
        assert "gold" not in text.lower()
        for ranking in gold_rankings:
            assert ranking not in text
        served_gold += task["item"]["id"] in {g.pk for g in gold}
        submitted = client.post(f"/api/v1/assignments/{task['assignment']}/submit/",
                                {"ranking": ranking_for(task)}, format="json")
        assert submitted.status_code == 201
        body = submitted.content.decode()
        assert set(submitted.json()) == {"annotation", "assignment", "created", "feedback_url"}
        assert "gold" not in body.lower() and "BOB-SECRET" not in body
    assert served_gold == 5
    assert Annotation.objects.filter(annotator=alice, item__is_gold=True).count() == 5
