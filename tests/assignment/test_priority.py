"""What comes next and why: gold at gold_rate, started items first, uncertainty order."""

from __future__ import annotations

import random

from annotation import services as annotation_services
from annotation.assignment import reasons, services
from annotation.models import Annotation, Assignment, Item

from .conftest import add_items, ranking_for


def _rank_all(task: services.Task) -> list[list[int]]:
    return [[r["id"]] for r in task.responses]


def _label(user, project, rng=None) -> services.Task | None:
    task = services.next_task(project_id=project.pk, annotator=user, rng=rng)
    if task is not None:
        services.submit_annotation(assignment_id=task.assignment.pk, annotator=user,
                                   ranking=_rank_all(task))
    return task


def test_gold_is_served_at_gold_rate_once_per_annotator(make_project, make_annotators):
    project = make_project(overlap=1, gold_rate=0.25)
    add_items(project, 300)
    gold = {item.pk for item in add_items(project, 80, gold=True, start=1000)}
    alice, bob = make_annotators(project, 2)
    rng = random.Random(7)
    served = [_label(alice, project, rng) for _ in range(200)]
    gold_tasks = [t for t in served if t.item.pk in gold]
    # 200 Bernoulli(0.25) draws: mean 50, standard deviation 6.1.
    assert 32 <= len(gold_tasks) <= 68
    assert all(reasons.is_hidden_gold(t.assignment.reason) for t in gold_tasks)
    assert not any(reasons.is_hidden_gold(t.assignment.reason)
                   for t in served if t.item.pk not in gold)
    # What the annotator reads looks like any new item.
    assert {t.reason for t in gold_tasks} == {reasons.OLDEST}
    seen = [t.item.pk for t in gold_tasks]
    assert len(seen) == len(set(seen))
    # Gold is not limited by overlap: Bob gets the gold items Alice already answered.
    bob_gold = [t.item.pk for t in (_label(bob, project, random.Random(1)) for _ in range(60))
                if t.item.pk in gold]
    assert set(bob_gold) & set(seen)
    assert Item.objects.filter(pk__in=seen).filter(annotations_done__gte=1).count() == len(seen)


def test_gold_rate_one_serves_each_gold_item_once_then_real_work(make_project,
                                                                 make_annotators):
    project = make_project(overlap=1, gold_rate=1.0)
    add_items(project, 3)
    gold = {item.pk for item in add_items(project, 4, gold=True, start=100)}
    (alice,) = make_annotators(project, 1)
    items = [t.item.pk for t in iter(lambda: _label(alice, project), None)]
    assert set(items[:4]) == gold and len(items) == 7
    stored = dict(Assignment.objects.values_list("item_id", "reason"))
    assert {stored[pk] for pk in gold} == {reasons.hidden_gold(instead_of=reasons.OLDEST)}
    assert stored[next(iter(gold))] == 'gold: hidden quality check (shown as "oldest open item")'


def test_started_items_come_before_older_new_ones(make_project, make_annotators, client_for):
    project = make_project(overlap=2)
    first, second, third = add_items(project, 3)
    x, y, z = make_annotators(project, 3)
    cx = client_for(x)
    task = cx.get(f"/api/v1/projects/{project.pk}/next/").json()
    assert (task["item"]["id"], task["reason"]) == (first.pk, "oldest open item")
    cx.post(f"/api/v1/assignments/{task['assignment']}/skip/", {"reason": "skip"},
            format="json")
    task = cx.get(f"/api/v1/projects/{project.pk}/next/").json()
    assert (task["item"]["id"], task["reason"]) == (second.pk, "oldest open item")
    # Y: the second item is started (X holds it), so it comes before the older first one.
    task_y = client_for(y).get(f"/api/v1/projects/{project.pk}/next/").json()
    assert (task_y["item"]["id"], task_y["reason"]) == (second.pk, "finish started item")
    assert (Assignment.objects.get(pk=task_y["assignment"]).reason
            == "finish started item (0/2 labels, 1 in progress)")
    # Second item is now full; Z gets the oldest open one.
    task_z = client_for(z).get(f"/api/v1/projects/{project.pk}/next/").json()
    assert (task_z["item"]["id"], task_z["reason"]) == (first.pk, "oldest open item")
    cx.post(f"/api/v1/assignments/{task['assignment']}/submit/",
            {"ranking": ranking_for(task)}, format="json")
    client_for(z).post(f"/api/v1/assignments/{task_z['assignment']}/submit/",
                       {"ranking": ranking_for(task_z)}, format="json")
    # X: first item (started by Z, 1 label) comes before the untouched third one.
    again = cx.get(f"/api/v1/projects/{project.pk}/next/").json()
    assert again["item"]["id"] == third.pk  # X skipped the first item: never again
    client_for(y).post(f"/api/v1/assignments/{task_y['assignment']}/submit/",
                       {"ranking": ranking_for(task_y)}, format="json")
    task_y2 = client_for(y).get(f"/api/v1/projects/{project.pk}/next/").json()
    assert (task_y2["item"]["id"], task_y2["reason"]) == (first.pk, "finish started item")
    stored = Assignment.objects.get(pk=task_y2["assignment"]).reason
    assert stored == "finish started item (1/2 labels)"


def test_active_learning_serves_smallest_uncertainty_first(make_project, make_annotators):
    project = make_project(overlap=1, settings={"active_learning": True})
    items = add_items(project, 5, uncertainty=[0.5, 0.03, None, 0.2, None])
    (alice,) = make_annotators(project, 1)
    served = [_label(alice, project) for _ in range(5)]
    assert [t.item.pk for t in served] == [items[i].pk for i in (1, 3, 0, 2, 4)]
    assert [t.reason for t in served] == [
        "active learning: uncertain item"] * 3 + ["oldest open item"] * 2
    assert [t.assignment.reason for t in served] == [
        "active learning: uncertainty 0.03", "active learning: uncertainty 0.2",
        "active learning: uncertainty 0.5", "oldest open item", "oldest open item"]


def test_started_items_still_come_before_uncertain_ones(make_project, make_annotators):
    project = make_project(overlap=2, settings={"active_learning": True})
    items = add_items(project, 3, uncertainty=[0.9, 0.8, 0.1])
    alice, bob = make_annotators(project, 2)
    first = _label(alice, project)
    assert first.item.pk == items[2].pk
    annotation_services.record_uncertainty(project=project, uncertainty={items[0].pk: 0.01})
    task = services.next_task(project_id=project.pk, annotator=bob)
    assert task.item.pk == items[2].pk
    assert task.reason == "finish started item"
    assert task.assignment.reason == "finish started item (1/2 labels)"
    after = services.next_task(project_id=project.pk, annotator=alice)
    assert (after.item.pk, after.reason) == (items[0].pk, "active learning: uncertain item")
    assert after.assignment.reason == "active learning: uncertainty 0.01"


def test_without_active_learning_uncertainty_is_ignored(make_project, make_annotators):
    project = make_project(overlap=1)
    items = add_items(project, 3, uncertainty=[0.9, 0.1, 0.5])
    (alice,) = make_annotators(project, 1)
    assert [_label(alice, project).item.pk for _ in range(3)] == [i.pk for i in items]


def test_record_uncertainty_sets_and_clears(make_project):
    project = make_project()
    items = add_items(project, 3)
    other = make_project(name="other")
    (foreign,) = add_items(other, 1, start=50)
    n = annotation_services.record_uncertainty(project=project, uncertainty={
        items[0].pk: 0.25, items[1].pk: None, foreign.pk: 0.5})
    assert n == 2
    assert dict(Item.objects.values_list("pk", "uncertainty")) == {
        items[0].pk: 0.25, items[1].pk: None, items[2].pk: None, foreign.pk: None}


def test_raising_overlap_reopens_finished_items(make_project, make_annotators, client_for):
    project = make_project(overlap=1)
    add_items(project, 2)
    alice, bob = make_annotators(project, 2)
    while _label(alice, project):
        pass
    assert services.next_task(project_id=project.pk, annotator=bob) is None
    manager = client_for(project.created_by)
    assert manager.patch(f"/api/v1/projects/{project.pk}/", {"overlap": 2},
                         format="json").status_code == 200
    task = services.next_task(project_id=project.pk, annotator=bob)
    assert task is not None and task.reason == "finish started item"
    assert task.assignment.reason == "finish started item (1/2 labels)"
    manager.patch(f"/api/v1/projects/{project.pk}/", {"overlap": 1}, format="json")
    services.submit_annotation(assignment_id=task.assignment.pk, annotator=bob,
                               ranking=_rank_all(task))
    assert services.next_task(project_id=project.pk, annotator=bob) is None
    assert Annotation.objects.count() == 3


def test_an_item_closed_too_early_is_reopened_when_the_queue_runs_dry(make_project,
                                                                      make_annotators):
    """A claim that read the old overlap can close an item under it after a manager raised
    it; the engine reopens such items before answering "nothing left"."""
    project = make_project(overlap=1)
    first, second = add_items(project, 2)
    alice, bob = make_annotators(project, 2)
    _label(alice, project)
    project.overlap = 2
    project.save()
    services.next_task(project_id=project.pk, annotator=bob)  # recomputes the queue
    # The stale write: the first item closed although it has one label of two.
    Item.objects.filter(pk=first.pk).update(queue_state=None)
    served = _label(alice, project)
    assert served.item.pk == second.pk
    assert services.next_task(project_id=project.pk, annotator=alice) is None
    carol = make_annotators(project, 1, prefix="late")[0]
    task = services.next_task(project_id=project.pk, annotator=carol)
    assert task.item.pk == first.pk
    assert task.reason == "finish started item"
    assert task.assignment.reason == "finish started item (1/2 labels)"
