"""The agreement endpoint, exact against an independent computation: hh-rlhf items labelled
by three annotators through the REST API, the figures recomputed from what was sent with the
``krippendorff`` package, scikit-learn and the textbook formulas."""

from __future__ import annotations

import itertools
import json
import random

import krippendorff
import numpy as np
import pytest
from scipy.stats import friedmanchisquare

from annotation import services
from annotation.models import Annotation, Membership

pytestmark = pytest.mark.django_db
N_ITEMS = 240
SKILL = {"careful": 0.9, "fair": 0.75, "noisy": 0.6}


def _import(client, project, lines, fmt):
    body = "\n".join(json.dumps(line) for line in lines)
    answer = client.post(f"/api/v1/projects/{project.pk}/items/import/?format={fmt}&labels=none",
                         body, content_type="application/x-ndjson")
    assert answer.status_code == 201, answer.content


def _label_everything(client_for, project, users, choose):
    """Each annotator asks for tasks until none is left; ``choose(name, task)`` ranks."""
    sent = []
    for name, user in users.items():
        client = client_for(user)
        while True:
            answer = client.get(f"/api/v1/projects/{project.pk}/next/")
            if answer.status_code == 204:
                break
            task = answer.json()
            ranking = choose(name, task)
            done = client.post(f"/api/v1/assignments/{task['assignment']}/submit/",
                               {"ranking": ranking, "duration_ms": 20_000}, format="json")
            assert done.status_code == 201, done.content
            sent.append((user.pk, task["item"]["id"], ranking))
    return sent


def _units(sent, positions):
    """Reliability data units × raters (NaN = missing) from what was submitted, coded
    0 = j wins, 1 = tie, 2 = i wins for the positions i < j of each item."""
    raters = sorted({who for who, _, _ in sent})
    units = {}
    for who, item, ranking in sent:
        tier = {rid: t for t, ids in enumerate(ranking) for rid in ids}
        pos = positions[item]
        for i, j in itertools.combinations(range(len(pos)), 2):
            a, b = tier[pos[i]], tier[pos[j]]
            units.setdefault((item, i, j), {})[who] = 2 if a < b else 0 if a > b else 1
    data = np.full((len(units), len(raters)), np.nan)
    for row, votes in enumerate(units.values()):
        for who, value in votes.items():
            data[row, raters.index(who)] = value
    return data, raters


def _positions(client, project):
    out, url = {}, f"/api/v1/projects/{project.pk}/items/?page_size=500"
    while url:
        page = client.get(url).json()
        for item in page["results"]:
            out[item["id"]] = [r["id"] for r in sorted(item["responses"],
                                                       key=lambda r: r["position"])]
        url = page["next"]
    return out


def _fleiss(data):
    """Fleiss (1971), P_i averaged over units with two or more labels, p_j pooled."""
    rows = [row[~np.isnan(row)] for row in data]
    rows = [row for row in rows if row.size >= 2]
    p_i = [sum(c * (c - 1) for c in np.bincount(row.astype(int), minlength=3))
           / (row.size * (row.size - 1)) for row in rows]
    pooled = np.bincount(np.concatenate(rows).astype(int), minlength=3) / sum(r.size for r in rows)
    chance = float(pooled @ pooled)
    return (np.mean(p_i) - chance) / (1 - chance), float(np.mean(p_i))


@pytest.fixture
def crowd(make_user):
    manager = make_user("qa-manager")
    project = services.create_project(actor=manager, name="hh agreement", responses_per_item=2,
                                      overlap=3,
                                      settings={"quality": {"cohen_min_units": 50,
                                                            "bootstrap_samples": 200}})
    users = {}
    for name in SKILL:
        users[name] = make_user(f"qa-{name}")
        services.set_membership(actor=manager, project=project, user=users[name],
                                role=Membership.Role.ANNOTATOR)
    return project, manager, users


def test_agreement_is_exact_on_hh_rlhf_replayed_through_the_api(crowd, client_for, hh_rlhf_lines):
    project, manager, users = crowd
    lines = hh_rlhf_lines[:N_ITEMS]
    admin = client_for(manager)
    _import(admin, project, lines, "hh-rlhf")
    positions = _positions(admin, project)
    # The import stores chosen then rejected; an annotator agrees with hh-rlhf at their skill.
    chosen = {ids[0] for ids in positions.values()}
    rng = random.Random(7)

    def choose(name, task):
        ids = [r["id"] for r in task["item"]["responses"]]
        if rng.random() < 0.05:
            return [ids]
        best = next(i for i in ids if i in chosen)
        other = next(i for i in ids if i != best)
        return [[best], [other]] if rng.random() < SKILL[name] else [[other], [best]]

    sent = _label_everything(client_for, project, users, choose)
    assert len(sent) == 3 * N_ITEMS
    got = admin.get(f"/api/v1/projects/{project.pk}/agreement/").json()

    data, raters = _units(sent, positions)
    assert got["n_items"] == N_ITEMS and got["n_annotations"] == 3 * N_ITEMS
    for level in ("nominal", "ordinal"):
        expected = krippendorff.alpha(reliability_data=data.T, level_of_measurement=level)
        assert got["krippendorff_alpha"][level] == pytest.approx(expected, abs=1e-9)
    fleiss, pct = _fleiss(data)
    assert got["fleiss_kappa"] == pytest.approx(fleiss, abs=1e-9)
    assert got["percent_agreement"] == pytest.approx(pct, abs=1e-9)
    cohen_kappa_score = pytest.importorskip("sklearn.metrics").cohen_kappa_score
    pairs = {(row["a"], row["b"]): row for row in got["cohen_kappa"]}
    assert len(pairs) == 3
    for a, b in itertools.combinations(range(len(raters)), 2):
        row = pairs[(raters[a], raters[b])]
        shared = ~np.isnan(data[:, a]) & ~np.isnan(data[:, b])
        assert row["n"] == shared.sum()
        assert row["kappa"] == pytest.approx(
            cohen_kappa_score(data[shared, a], data[shared, b]), abs=1e-9)
    # The careful annotator agrees with the fair one more than the noisy one does.
    by_name = {name: users[name].pk for name in users}
    kappa = {frozenset((r["a"], r["b"])): r["kappa"] for r in got["cohen_kappa"]}
    assert (kappa[frozenset((by_name["careful"], by_name["fair"]))]
            > kappa[frozenset((by_name["noisy"], by_name["fair"]))])
    for name in ("percent_agreement", "alpha_nominal", "alpha_ordinal", "fleiss_kappa"):
        low, high = got["ci"][name]
        point = (got["krippendorff_alpha"][name.split("_")[1]] if name.startswith("alpha")
                 else got[name])
        assert low <= point <= high
    assert got["kendall_w"] is None and got["kendall_w_items"] == 0  # K = 2
    assert [week["n_annotations"] for week in got["weekly"]] == [3 * N_ITEMS]
    assert got["weekly"][0]["krippendorff_alpha"] == got["krippendorff_alpha"]


def test_filters_guideline_version_and_since_and_kendall_w(crowd, client_for):
    project, manager, users = crowd
    project.responses_per_item = 4
    project.save()
    admin = client_for(manager)
    rng = random.Random(3)
    items = [{"prompt": f"p{n}", "responses": [f"r{n}-{k}" for k in range(4)]} for n in range(30)]
    _import(admin, project, items, "native")
    positions = _positions(admin, project)

    def choose(name, task):
        ids = sorted(r["id"] for r in task["item"]["responses"])
        if name == "noisy":
            rng.shuffle(ids)
        elif rng.random() < 0.3:
            ids[1], ids[2] = ids[2], ids[1]
        return [[ids[0]], [ids[1], ids[2]], [ids[3]]] if rng.random() < 0.2 else [[i] for i in ids]

    sent = _label_everything(client_for, project, users, choose)
    got = admin.get(f"/api/v1/projects/{project.pk}/agreement/").json()
    by_item = {}
    for _, item, ranking in sent:
        by_item.setdefault(item, []).append(ranking)
    expected = []
    for item, rankings in by_item.items():
        ranks = []
        for ranking in rankings:
            rank, before = {}, 0
            for tier in ranking:
                for rid in tier:
                    rank[rid] = before + (len(tier) + 1) / 2
                before += len(tier)
            ranks.append([rank[rid] for rid in positions[item]])
        # Friedman's χ² (tie-corrected) = m (K - 1) W.
        chi2 = friedmanchisquare(*np.array(ranks).T).statistic
        expected.append(chi2 / (len(ranks) * 3))
    assert got["kendall_w"] == pytest.approx(np.mean(expected), abs=1e-9)
    assert got["kendall_w_items"] == 30

    # Labels of an older guideline version, and labels from before a date, filter out.
    Annotation.objects.filter(annotator=users["noisy"]).update(guideline_version=1)
    only_v1 = admin.get(f"/api/v1/projects/{project.pk}/agreement/?guideline_version=1").json()
    assert only_v1["n_labels"] == 30 and only_v1["n_items"] == 0
    assert only_v1["percent_agreement"] is None
    assert admin.get(f"/api/v1/projects/{project.pk}/agreement/?since=2999-01-01").json()[
        "n_labels"] == 0
    bad = admin.get(f"/api/v1/projects/{project.pk}/agreement/?since=yesterday&guideline_version=x")
    assert bad.status_code == 400
    assert {e["field"] for e in bad.json()["errors"]} == {"since", "guideline_version"}


def test_imported_and_excluded_labels_are_not_human_agreement(crowd, client_for):
    project, manager, users = crowd
    admin = client_for(manager)
    line = {"prompt": "p", "chosen": "a", "rejected": "b"}
    answer = admin.post(f"/api/v1/projects/{project.pk}/items/import/?format=trl",
                        json.dumps(line), content_type="application/x-ndjson")
    assert answer.status_code == 201
    item_responses = _positions(admin, project)
    (item_id, ids), = item_responses.items()
    sent = _label_everything(client_for, project, dict(list(users.items())[:2]),
                             lambda name, task: [[ids[0]], [ids[1]]])
    got = admin.get(f"/api/v1/projects/{project.pk}/agreement/").json()
    assert got["n_labels"] == len(sent) == 2 and got["percent_agreement"] == 1.0
    Annotation.objects.filter(pk=Annotation.objects.filter(source="human").first().pk).update(
        excluded=True)
    got = admin.get(f"/api/v1/projects/{project.pk}/agreement/").json()
    assert got["n_labels"] == 1 and got["n_items"] == 0
