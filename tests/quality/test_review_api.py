"""Item detail with consensus and labels, the review queue and reviewers' decisions, and
pausing annotators: what reviewers and managers see and do, through the REST API."""

from __future__ import annotations

import pytest

from annotation import services
from annotation.models import Annotation, AuditLog, Item, Membership, Response

pytestmark = pytest.mark.django_db


@pytest.fixture
def contested(make_user):
    """A K=3 project: item A unanimous, item B contested (opposite orders and a tie),
    item C flagged; a reviewer
    and three annotators."""
    manager = make_user("rv-manager")
    project = services.create_project(actor=manager, name="Review", responses_per_item=3,
                                      overlap=3)
    people = {"manager": manager, "reviewer": make_user("rv-reviewer"),
              "outsider": make_user("rv-outsider")}
    services.set_membership(actor=manager, project=project, user=people["reviewer"],
                            role=Membership.Role.REVIEWER)
    for n in range(3):
        people[f"a{n}"] = make_user(f"rv-a{n}")
        services.set_membership(actor=manager, project=project, user=people[f"a{n}"],
                                role=Membership.Role.ANNOTATOR)
    items = {}
    for name in "ABC":
        item = Item.objects.create(project=project, prompt=f"prompt {name}",
                                   content_hash=name * 64)
        items[name] = [Response.objects.create(item=item, position=p, text=f"{name}{p}").pk
                       for p in range(3)]
        items[name + "_item"] = item
    x, y, z = items["A"]
    for n in range(3):
        _label(project, items["A_item"], people[f"a{n}"], [[x], [y], [z]])
    x, y, z = items["B"]
    for n, ranking in enumerate(([[x], [y], [z]], [[z], [y], [x]], [[x, y, z]])):
        _label(project, items["B_item"], people[f"a{n}"], ranking)
    x, y, z = items["C"]
    _label(project, items["C_item"], people["a0"], [[x], [y], [z]], flags=["harmful"])
    _label(project, items["C_item"], people["a1"], [[x], [y], [z]])
    return project, people, items


def _label(project, item, user, ranking, flags=()):
    return Annotation.objects.create(project=project, item=item, annotator=user,
                                     ranking=ranking, flags=list(flags), duration_ms=9000)


def test_item_detail_shows_every_label_and_the_consensus_to_reviewers_only(contested, client_for):
    project, people, items = contested
    url = f"/api/v1/items/{items['A_item'].pk}/"
    got = client_for(people["reviewer"]).get(url)
    assert got.status_code == 200
    body = got.json()
    assert len(body["labels"]) == 3 and {label["username"] for label in body["labels"]} == {
        "rv-a0", "rv-a1", "rv-a2"}
    assert body["consensus"]["method"] == "majority"
    assert body["consensus"]["ranking"] == [[i] for i in items["A"]]
    assert body["consensus"]["confidence"] == 1.0 and body["consensus"]["source"] == "labels"
    for method in ("bradley_terry", "dawid_skene"):
        other = client_for(people["reviewer"]).get(f"{url}?consensus={method}").json()
        assert other["consensus"]["method"] == method
        assert other["consensus"]["ranking"] == [[i] for i in items["A"]]
    assert client_for(people["reviewer"]).get(f"{url}?consensus=vote").status_code == 400
    assert client_for(people["a0"]).get(url).status_code == 403
    assert client_for(people["outsider"]).get(url).status_code == 404


def test_review_queue_lists_contested_and_flagged_items_with_why(contested, client_for):
    project, people, items = contested
    got = client_for(people["reviewer"]).get(f"/api/v1/projects/{project.pk}/review-queue/")
    assert got.status_code == 200
    rows = {row["item"]: row for row in got.json()["results"]}
    assert set(rows) == {items["B_item"].pk, items["C_item"].pk}
    assert "low_agreement" in rows[items["B_item"].pk]["reasons"]
    assert rows[items["C_item"].pk]["reasons"] == ["flagged"]
    assert rows[items["C_item"].pk]["flags"] == ["harmful"]
    assert client_for(people["a1"]).get(
        f"/api/v1/projects/{project.pk}/review-queue/").status_code == 403


def test_accepting_a_ranking_overrides_consensus_and_leaves_the_queue(contested, client_for):
    project, people, items = contested
    reviewer = client_for(people["reviewer"])
    item = items["B_item"]
    chosen = Annotation.objects.filter(item=item, annotator=people["a1"]).get()
    answer = reviewer.post(f"/api/v1/items/{item.pk}/review/",
                           {"decision": "accept", "annotation": chosen.pk, "note": "a1 is right"},
                           format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["consensus"]["ranking"] == chosen.ranking
    assert answer.json()["consensus"]["source"] == "review"
    for method in ("majority", "bradley_terry", "dawid_skene"):
        detail = reviewer.get(f"/api/v1/items/{item.pk}/?consensus={method}").json()
        assert detail["consensus"]["ranking"] == chosen.ranking
        assert detail["consensus"]["confidence"] == 1.0
    assert detail["reviews"][0]["decision"] == "accept"
    queue = reviewer.get(f"/api/v1/projects/{project.pk}/review-queue/").json()["results"]
    assert item.pk not in {row["item"] for row in queue}
    entry = AuditLog.objects.get(action="review.accept")
    assert entry.actor == people["reviewer"] and entry.data["note"] == "a1 is right"


def test_own_ranking_gold_and_exclude(contested, client_for):
    project, people, items = contested
    reviewer = client_for(people["reviewer"])
    x, y, z = items["B"]
    item = items["B_item"]
    bad = reviewer.post(f"/api/v1/items/{item.pk}/review/",
                        {"decision": "rank", "ranking": [[x], [y]]}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "ranking"
    assert not item.reviews.exists()
    own = reviewer.post(f"/api/v1/items/{item.pk}/review/",
                        {"decision": "rank", "ranking": [[z], [x, y]]}, format="json")
    assert own.json()["consensus"]["ranking"] == [[z], [x, y]]

    gold = items["A_item"]
    a = items["A"]
    answer = reviewer.post(f"/api/v1/items/{gold.pk}/review/",
                           {"decision": "gold", "ranking": [[a[0]], [a[1]], [a[2]]]},
                           format="json")
    assert answer.status_code == 201
    gold.refresh_from_db()
    assert gold.is_gold and gold.gold_ranking == [[a[0]], [a[1]], [a[2]]]

    flagged = items["C_item"]
    label = Annotation.objects.get(item=flagged, annotator=people["a0"])
    answer = reviewer.post(f"/api/v1/items/{flagged.pk}/review/",
                           {"decision": "exclude", "annotation": label.pk, "note": "spam"},
                           format="json")
    assert answer.status_code == 201
    label.refresh_from_db()
    assert label.excluded
    detail = reviewer.get(f"/api/v1/items/{flagged.pk}/").json()
    assert detail["consensus"]["n_labels"] == 1
    assert [row["excluded"] for row in detail["labels"]] == [True, False]
    # Another item's label, or none, is refused by name.
    other = Annotation.objects.filter(item=gold).first()
    wrong = reviewer.post(f"/api/v1/items/{flagged.pk}/review/",
                          {"decision": "exclude", "annotation": other.pk}, format="json")
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["field"] == "annotation"
    assert {e.action for e in AuditLog.objects.filter(action__startswith="review.")} == {
        "review.rank", "review.gold", "review.exclude"}


def test_pause_and_resume_through_the_api(contested, client_for):
    project, people, _ = contested
    member = Membership.objects.get(project=project, user=people["a2"])
    manager = client_for(people["manager"])
    url = f"/api/v1/projects/{project.pk}/members/{member.pk}/"
    answer = manager.patch(url, {"status": "paused", "reason": "clicks the first response"},
                           format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "paused"
    refused = client_for(people["a2"]).get(f"/api/v1/projects/{project.pk}/next/")
    assert refused.status_code == 403
    assert refused.json()["code"] == "membership_paused"
    assert "clicks the first response" in refused.json()["detail"]
    table = manager.get(f"/api/v1/projects/{project.pk}/annotators/").json()["results"]
    row = next(r for r in table if r["annotator"] == people["a2"].pk)
    assert row["status"] == "paused" and row["paused_reason"] == "clicks the first response"
    assert manager.patch(url, {"status": "active"}, format="json").json()["status"] == "active"
    assert client_for(people["a2"]).get(f"/api/v1/projects/{project.pk}/next/").status_code in (
        200, 204)
    actions = list(AuditLog.objects.filter(project=project, action__startswith="membership.p")
                   .values_list("action", "data__reason"))
    assert ("membership.pause", "clicks the first response") in actions
    assert AuditLog.objects.filter(project=project, action="membership.resume").exists()
    assert client_for(people["reviewer"]).patch(url, {"status": "paused"},
                                                format="json").status_code == 403
    assert manager.patch(url, {"status": "asleep"}, format="json").status_code == 400


def test_annotators_table_and_csv(contested, client_for):
    project, people, _ = contested
    reviewer = client_for(people["reviewer"])
    got = reviewer.get(f"/api/v1/projects/{project.pk}/annotators/")
    assert got.status_code == 200
    rows = {row["username"]: row for row in got.json()["results"]}
    assert set(rows) == {"rv-a0", "rv-a1", "rv-a2"}
    assert rows["rv-a0"]["labels"] == 3 and rows["rv-a2"]["labels"] == 2
    assert rows["rv-a0"]["median_seconds"] == 9.0
    for key in ("gold_accuracy", "agreement", "position_bias", "tie_rate", "trust", "status",
                "paused_reason", "skip_rate", "straight_lining"):
        assert key in rows["rv-a0"]
    csv = reviewer.get(f"/api/v1/projects/{project.pk}/annotators/?format=csv")
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().strip().splitlines()
    assert lines[0].startswith("annotator,username,") and len(lines) == 4
    assert client_for(people["a0"]).get(
        f"/api/v1/projects/{project.pk}/annotators/").status_code == 403


def test_a_reviewer_of_one_project_sees_nothing_of_another(contested, client_for, make_user):
    project, people, items = contested
    other_manager = make_user("other-manager")
    other = services.create_project(actor=other_manager, name="Other", responses_per_item=3)
    reviewer = client_for(people["reviewer"])
    for path in ("agreement", "annotators", "review-queue", "progress"):
        assert reviewer.get(f"/api/v1/projects/{other.pk}/{path}/").status_code == 404
    item = Item.objects.create(project=other, prompt="p", content_hash="o" * 64)
    rid = [Response.objects.create(item=item, position=p, text=str(p)).pk for p in range(3)]
    assert reviewer.get(f"/api/v1/items/{item.pk}/").status_code == 404
    assert reviewer.post(f"/api/v1/items/{item.pk}/review/",
                         {"decision": "rank", "ranking": [rid]}, format="json").status_code == 404
