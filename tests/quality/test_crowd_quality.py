"""The acceptance crowd through the real platform: 20 annotators (12 careful, 3 random
clickers, 3 always-first-shown, 2 far too fast) rank 600 K = 4 items (10% hidden gold)
through the REST API, the assignment engine choosing every task. QC must flag exactly the
8 bad ones within 50 labels each, and Dawid–Skene consensus must match the hidden truth
more often than majority vote."""

from __future__ import annotations

import json
import random

import pytest
from scipy.stats import binomtest

from annotation.assignment import services as engine
from annotation.models import Project
from annotation.quality.compute import compute
from annotation.quality.crowd_simulation import (
    annotate_over_api,
    native_lines,
    qc_precision_recall,
    score_consensus,
    simulate_items,
)

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]
CROWD = {"careful": 12, "random": 3, "first_shown": 3, "too_fast": 2}
N_ITEMS, LABELS_EACH = 600, 50


def _caller(client):
    def call(method, path, body):
        answer = (client.get(path) if method == "GET"
                  else client.post(path, body, format="json"))
        return answer.status_code, (answer.json() if answer.content else None)

    return call


def _tiers(ranking):
    return [sorted(tier) for tier in ranking]


@pytest.fixture
def run_crowd(make_user, client_for, monkeypatch):
    def run(seed: int):
        # The engine draws gold and display orders from this generator: the run is seeded.
        monkeypatch.setattr(engine, "random", random.Random(seed))
        manager = make_user(f"crowd-manager-{seed}", staff=True)
        admin = client_for(manager)
        made = admin.post("/api/v1/projects/", {"name": f"crowd {seed}", "responses_per_item": 4,
                                                "overlap": 3, "gold_rate": 0.1}, format="json")
        assert made.status_code == 201, made.content
        project = made.json()["id"]
        items = simulate_items(n_items=N_ITEMS, gold_rate=0.1, k=4, seed=seed)
        body = "\n".join(json.dumps(line) for line in native_lines(items))
        imported = admin.post(f"/api/v1/projects/{project}/items/import/?format=native&labels=none",
                              body, content_type="application/x-ndjson")
        assert imported.status_code == 201, imported.content
        assert imported.json()["created"] == N_ITEMS and imported.json()["gold"] == 60
        types = {f"{kind}-{n}": kind for kind, count in CROWD.items() for n in range(count)}
        calls = {}
        for name in types:
            user = make_user(name)
            joined = admin.post(f"/api/v1/projects/{project}/members/",
                                {"user": user.pk, "role": "annotator"}, format="json")
            assert joined.status_code == 201, joined.content
            calls[name] = _caller(client_for(user))
        crowd = annotate_over_api(calls=calls, project_id=project, items=items,
                                  annotator_types=types, labels_per_annotator=LABELS_EACH,
                                  seed=seed)
        return admin, project, items, types, crowd

    return run


@pytest.mark.parametrize("seed", [0, 1])
def test_qc_and_consensus_on_the_acceptance_crowd(run_crowd, seed):
    admin, project, items, types, crowd = run_crowd(seed)
    bad = {name for name, kind in types.items() if kind != "careful"}
    assert len(crowd.labels) == LABELS_EACH * len(types)
    # The engine served hidden gold at about gold_rate (binomial: 1000 draws, p = 0.1).
    served_gold = sum(items[r.item].gold for r in crowd.labels)
    assert 60 <= served_gold <= 140

    table = admin.get(f"/api/v1/projects/{project}/annotators/").json()["results"]
    rows = {row["username"]: row for row in table if row["username"] in types}
    labels = {name: row["labels"] for name, row in rows.items()}
    assert labels == dict.fromkeys(types, LABELS_EACH)
    assert all(row["judged"] for row in rows.values())
    flagged = {name for name, row in rows.items() if row["flagged"]}
    precision, recall = qc_precision_recall(flagged, bad)
    reasons = {name: rows[name]["reason"] for name in flagged ^ bad}
    assert precision >= 0.95 and recall >= 0.95, reasons

    project_row = Project.objects.get(pk=project)
    scores = {}
    for method in ("majority", "dawid_skene"):
        found = compute(project=project_row, method=method)
        rankings = {item_id: result.ranking for item_id, result in found.items()}
        scores[method] = score_consensus(rankings, crowd, items)
        # What the REST API serves is the same consensus (a few items, seeded).
        for item_id in random.Random(seed).sample(sorted(crowd.served), 4):
            detail = admin.get(f"/api/v1/items/{item_id}/?consensus={method}").json()
            assert _tiers(detail["consensus"]["ranking"]) == _tiers(rankings[item_id])
    ds, majority = scores["dawid_skene"], scores["majority"]
    assert ds.items == majority.items >= 250
    assert ds.pair_accuracy > majority.pair_accuracy, (ds.pair_accuracy, majority.pair_accuracy)
    # And not by luck: items where Dawid–Skene orders more pairs right outnumber those where
    # majority does (one-sided sign test).
    better = sum(d > m for d, m in zip(ds.pairs_right, majority.pairs_right, strict=True))
    worse = sum(d < m for d, m in zip(ds.pairs_right, majority.pairs_right, strict=True))
    assert binomtest(better, better + worse, 0.5, alternative="greater").pvalue < 0.01
    assert ds.exact >= majority.exact - 0.02, (ds.exact, majority.exact)
