"""Consensus is stored, recomputed after labels change (debounced) and on demand, and the
trust auto-pause acts on it."""

from __future__ import annotations

import pytest

from annotation import services
from annotation.models import Annotation, AuditLog, Item, Membership, Response
from annotation.quality import schedule
from annotation.quality.celery_tasks import recompute_quality
from annotation.quality.models import Consensus

pytestmark = pytest.mark.django_db


def test_the_sweep_recomputes_changed_projects_at_most_once_per_window(make_user, client_for,
                                                                     monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from annotation.quality import services as quality_services

    manager, annotator = make_user("sc-manager"), make_user("sc-annotator")
    project = services.create_project(actor=manager, name="Scheduled", responses_per_item=2,
                                      settings={"quality": {"debounce_seconds": 60}})
    services.set_membership(actor=manager, project=project, user=annotator,
                            role=Membership.Role.ANNOTATOR)
    ids = {}
    for n in range(2):
        item = Item.objects.create(project=project, prompt=f"p{n}", content_hash=f"{n:064d}")
        ids[item.pk] = [Response.objects.create(item=item, position=p, text=str(p)).pk
                        for p in range(2)]
    assert schedule.due_projects() == []  # nothing labelled yet
    client = client_for(annotator)

    def label_one():
        task = client.get(f"/api/v1/projects/{project.pk}/next/").json()
        rid = ids[task["item"]["id"]]
        assert client.post(f"/api/v1/assignments/{task['assignment']}/submit/",
                           {"ranking": [[rid[0]], [rid[1]]]}, format="json").status_code == 201

    label_one()
    assert schedule.due_projects() == [project]
    assert quality_services.recompute_changed() == {"projects": {project.pk: 3}}  # 3 methods
    assert Consensus.objects.filter(project=project, method="majority").count() == 1
    assert schedule.due_projects() == []  # up to date
    label_one()
    assert schedule.due_projects() == []  # changed, but recomputed less than 60 s ago
    later = timezone.now() + timedelta(seconds=61)
    assert schedule.due_projects(now=later) == [project]
    # On demand, at once, whatever the window.
    sent = []
    monkeypatch.setattr(quality_services, "enqueue_on_commit",
                        lambda name, *args, **options: sent.append((name, args, options)))
    assert client_for(manager).post(f"/api/v1/projects/{project.pk}/consensus/", {},
                                    format="json").status_code == 202
    assert sent == [("annotation.recompute_quality", (project.pk,), {})]


@pytest.fixture
def crowd(make_user):
    """K=3: two annotators rank by the truth, one always reverses it; 12 items."""
    manager = make_user("tp-manager")
    project = services.create_project(
        actor=manager, name="Trust", responses_per_item=3,
        settings={"quality": {"pause_below_trust": 0.5, "min_labels": 8}})
    people = {name: make_user(f"tp-{name}") for name in ("good1", "good2", "contrarian")}
    for user in people.values():
        services.set_membership(actor=manager, project=project, user=user,
                                role=Membership.Role.ANNOTATOR)
    for n in range(12):
        item = Item.objects.create(project=project, prompt=f"p{n}", content_hash=f"{n:064d}")
        ids = [Response.objects.create(item=item, position=p, text=f"{n}-{p}").pk
               for p in range(3)]
        truth = [[i] for i in ids]
        for name, user in people.items():
            ranking = truth[::-1] if name == "contrarian" else truth
            Annotation.objects.create(project=project, item=item, annotator=user,
                                      ranking=ranking, duration_ms=20_000)
    return project, manager, people


def test_the_task_stores_every_method_and_pauses_the_untrusted(crowd, client_for):
    project, manager, people = crowd
    result = recompute_quality.apply(args=[project.pk]).get()
    assert result["consensus"] == 3 * 12
    assert result["paused"] == [people["contrarian"].pk]
    assert set(Consensus.objects.filter(project=project).values_list("method", flat=True)) == {
        "majority", "bradley_terry", "dawid_skene"}
    # Two careful annotators against one contrarian: every method follows the majority.
    for row in Consensus.objects.filter(project=project):
        ids = list(Response.objects.filter(item=row.item).order_by("position")
                   .values_list("pk", flat=True))
        assert row.ranking == [[i] for i in ids], row.method
    member = Membership.objects.get(project=project, user=people["contrarian"])
    assert member.status == "paused" and member.paused_reason.startswith("Paused automatically")
    entry = AuditLog.objects.get(action="membership.pause")
    assert entry.actor is None and entry.data["automatic"] is True
    refused = client_for(people["contrarian"]).get(f"/api/v1/projects/{project.pk}/next/")
    assert refused.status_code == 403 and refused.json()["reason"] == member.paused_reason
    # A manager resumes: the labels that paused them are not held against them again.
    client_for(manager).patch(f"/api/v1/projects/{project.pk}/members/{member.pk}/",
                              {"status": "active"}, format="json")
    assert recompute_quality.apply(args=[project.pk]).get()["paused"] == []
    member.refresh_from_db()
    assert member.status == "active" and member.resumed_at is not None
    for good in ("good1", "good2"):
        assert Membership.objects.get(project=project, user=people[good]).status == "active"


def test_no_auto_pause_unless_the_project_asks(crowd):
    project, _, people = crowd
    project.settings = {}
    project.save()
    assert recompute_quality.apply(args=[project.pk]).get()["paused"] == []
    table_row_flags = Membership.objects.get(project=project, user=people["contrarian"]).status
    assert table_row_flags == "active"


def test_stored_rows_follow_label_changes_and_never_touch_labels(crowd, client_for):
    project, manager, people = crowd
    recompute_quality.apply(args=[project.pk])
    item = Item.objects.filter(project=project).first()
    before = Consensus.objects.get(item=item, method="majority")
    labels_before = list(Annotation.objects.filter(item=item).values_list("ranking", flat=True))
    # Exclude both careful labels: the contrarian's is all that is left.
    for name in ("good1", "good2"):
        label = Annotation.objects.get(item=item, annotator=people[name])
        client_for(manager).post(f"/api/v1/items/{item.pk}/review/",
                                 {"decision": "exclude", "annotation": label.pk}, format="json")
    detail = client_for(manager).get(f"/api/v1/items/{item.pk}/").json()
    assert detail["consensus"]["ranking"] == labels_before[2]
    after = Consensus.objects.get(item=item, method="majority")
    assert after.fingerprint != before.fingerprint and after.n_labels == 1
    assert list(Annotation.objects.filter(item=item).values_list("ranking", flat=True)) == (
        labels_before)


def test_a_current_stored_row_is_read_without_refitting(crowd, client_for, monkeypatch):
    from annotation.quality import compute

    project, manager, _ = crowd
    recompute_quality.apply(args=[project.pk])
    item = Item.objects.filter(project=project).first()
    stored = Consensus.objects.get(item=item, method="dawid_skene")

    def refit(**_):
        raise AssertionError("a current row was recomputed")

    monkeypatch.setattr(compute, "compute", refit)
    detail = client_for(manager).get(f"/api/v1/items/{item.pk}/?consensus=dawid_skene").json()
    assert detail["consensus"]["ranking"] == stored.ranking
    assert detail["consensus"]["computed_at"] == stored.computed_at.isoformat().replace(
        "+00:00", "Z")
