"""A hidden gold task cannot be told from an ordinary one by anything the annotator receives.

An annotator is played through many tasks over the API, next to a second annotator who
starts and finishes items (so every priority rule applies: started items, the reward
model's uncertainty, age). Each answer the annotator gets (next, asking again, submit,
repeating the submit, skip, feedback) is reduced to what a classifier could look at: the
reason and every field's shape and value except ids. Whatever gold tasks show must be
something ordinary tasks show too, and the reason of every task must be the one the open
queue's head would give at that moment, gold or not.
"""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from annotation.assignment import reasons, selectors, services
from annotation.models import Assignment, Item

from .conftest import add_items, ranking_for

LEASE_SECONDS = 600


def _shape(value):
    """The value with ids, texts and times reduced to their types: what does not depend on
    which item was served."""
    if isinstance(value, dict):
        return tuple(sorted((key, _shape(inner)) for key, inner in value.items()))
    if isinstance(value, list):
        return ("list", len(value), tuple(sorted({_shape(inner) for inner in value},
                                                 key=repr)))
    return type(value).__name__


def _without_ids(url: str, assignment_id: int) -> str:
    return url.replace(str(assignment_id), "<id>")


def _expected_reason(project, annotator) -> str | None:
    """The shown reason of the task the open queue would serve now (None: nothing left)."""
    head = selectors.open_candidates(project=project, annotator=annotator).first()
    if head is None:
        return None
    stored = reasons.for_open_item(
        labels=head.annotations_done, in_progress=head.leases_live, overlap=project.overlap,
        active_learning=selectors.uses_active_learning(project),
        item_uncertainty=head.uncertainty,
    )
    return reasons.shown_to_annotator(stored=stored, is_practice=False)


def _seconds_left(expires: str, assignment_id: int) -> float:
    """The lease the annotator was given, measured from the moment of the claim (a clock
    read around the request would make a slow request look like a shorter lease)."""
    expires_at = datetime.fromisoformat(expires.replace("Z", "+00:00"))
    return (expires_at - Assignment.objects.get(pk=assignment_id).leased_at).total_seconds()


def _play(project, alice, bob, client_for, *, rng: random.Random) -> list[dict]:
    """Alice works until nothing is left; Bob starts first and, between her tasks, leases,
    submits or skips items, so many of hers are started and some gold items have labels.
    Returns one observation per task Alice got."""
    ca, cb = client_for(alice), client_for(bob)
    next_url = f"/api/v1/projects/{project.pk}/next/"
    for _head_start in range(16):
        task = cb.get(next_url).json()
        cb.post(task["submit_url"], {"ranking": ranking_for(task)}, format="json")
    bob_task = None
    seen = []
    for _round in range(500):
        if bob_task is None:
            answer = cb.get(next_url)
            bob_task = answer.json() if answer.status_code == 200 else None
        elif rng.random() < 0.6:
            action = "submit" if rng.random() < 0.8 else "skip"
            body = {"ranking": ranking_for(bob_task)} if action == "submit" else {}
            cb.post(f"/api/v1/assignments/{bob_task['assignment']}/{action}/", body,
                    format="json")
            bob_task = None

        expected = _expected_reason(project, alice)
        answer = ca.get(next_url)
        if answer.status_code == 204:
            assert expected is None
            return seen
        assert answer.status_code == 200
        task = answer.json()
        assignment_id = task["assignment"]
        again = ca.get(next_url).json()
        observation = {
            "gold": Item.objects.get(pk=task["item"]["id"]).is_gold,
            "expected_reason": expected,
            "stored_reason": Assignment.objects.get(pk=assignment_id).reason,
            "next": (
                task["reason"], task["is_practice"], task["guideline_version"],
                repr(task["project"]), _shape(task),
                _without_ids(task["submit_url"], assignment_id),
                _without_ids(task["skip_url"], assignment_id),
                _seconds_left(task["lease_expires_at"], assignment_id),
                again == task,
            ),
        }
        if rng.random() < 0.15:
            skipped = ca.post(task["skip_url"], {"reason": "not sure"}, format="json")
            observation["after"] = (skipped.status_code, _shape(skipped.json()),
                                    skipped.json()["status"])
        else:
            body = {"ranking": ranking_for(task), "flags": ["unsure"], "rationale": "why"}
            first = ca.post(task["submit_url"], body, format="json")
            replay = ca.post(task["submit_url"], body, format="json")
            feedback = ca.get(first.json()["feedback_url"])
            observation["after"] = (
                first.status_code, _shape(first.json()), first.json()["created"],
                _without_ids(first.json()["feedback_url"], assignment_id),
                replay.status_code, replay.json() == {**first.json(), "created": False},
                feedback.status_code, repr(feedback.json()),
            )
        seen.append(observation)
    raise AssertionError("the annotator never ran out of work")


@pytest.mark.parametrize("active_learning", [False, True], ids=["by-age", "active-learning"])
def test_gold_tasks_look_like_ordinary_ones_under_every_rule(make_project, make_annotators,
                                                             client_for, active_learning):
    project = make_project(overlap=2, responses_per_item=2, gold_rate=0.5,
                           lease_seconds=LEASE_SECONDS,
                           settings={"active_learning": active_learning})
    rng = random.Random(20)
    # The engine draws gold and shuffles with the module's generator; seeded, the walk is
    # the same every run (unseeded, a run can by chance never serve gold on one rule).
    random.seed(20)
    # Scored and unscored ordinary items, so that under active learning both "uncertain"
    # and "oldest" tasks come up; one gold item has a score of its own.
    add_items(project, 36, uncertainty=[round(rng.random(), 4) if i % 3 else None
                                        for i in range(36)])
    add_items(project, 60, gold=True, start=1000,
              uncertainty=[0.0001] + [None] * 59)
    alice, bob = make_annotators(project, 2)

    seen = _play(project, alice, bob, client_for, rng=rng)

    gold = [o for o in seen if o["gold"]]
    ordinary = [o for o in seen if not o["gold"]]
    assert len(gold) >= 15 and len(ordinary) >= 15
    shown = {o["next"][0] for o in ordinary}
    if active_learning:
        assert shown == {reasons.STARTED, reasons.UNCERTAIN, reasons.OLDEST}
    else:
        assert shown == {reasons.STARTED, reasons.OLDEST}
    assert {o["next"][0] for o in gold} == shown  # gold came up under every rule
    # Whatever a gold task shows, ordinary tasks show too, in the next answer and after it.
    assert {o["next"] for o in gold} <= {o["next"] for o in ordinary}
    assert {o["after"] for o in gold} <= {o["after"] for o in ordinary}
    assert {o["next"][7] for o in seen} == {LEASE_SECONDS}
    # And the reason follows the queue, not the item: it is what the queue's head would
    # have said at that moment, for gold and ordinary tasks alike.
    assert all(o["next"][0] == o["expected_reason"] for o in seen)
    # Managers still see which task was gold, and the details of the others.
    assert all(reasons.is_hidden_gold(o["stored_reason"]) for o in gold)
    assert not any(reasons.is_hidden_gold(o["stored_reason"]) for o in ordinary)
    assert any("labels" in o["stored_reason"] for o in ordinary)
    if active_learning:
        assert any("uncertainty 0." in o["stored_reason"] for o in ordinary)


def test_no_gold_after_nothing_left(make_project, make_annotators):
    """Gold only ever stands in for an ordinary task: once the queue is empty for an
    annotator, a task could otherwise only be gold."""
    project = make_project(overlap=1, gold_rate=0.5)
    add_items(project, 3)
    gold = {item.pk for item in add_items(project, 10, gold=True, start=100)}
    (alice,) = make_annotators(project, 1)
    rng = random.Random(3)
    served = []
    while task := services.next_task(project_id=project.pk, annotator=alice, rng=rng):
        served.append(task.item.pk in gold)
        services.submit_annotation(assignment_id=task.assignment.pk, annotator=alice,
                                   ranking=[[r["id"]] for r in task.responses])
    assert served.count(False) == 3 and served[-1] is False
    assert 0 < served.count(True) < len(gold)  # gold is left, and stays unserved:
    assert [services.next_task(project_id=project.pk, annotator=alice, rng=rng)
            for _ in range(20)] == [None] * 20


def test_gold_at_rate_one_stands_in_while_ordinary_work_waits(make_project, make_annotators,
                                                              client_for):
    project = make_project(overlap=1, gold_rate=1.0)
    add_items(project, 2)
    add_items(project, 5, gold=True, start=100)
    (alice,) = make_annotators(project, 1)
    client = client_for(alice)
    url = f"/api/v1/projects/{project.pk}/next/"
    served = []
    while (answer := client.get(url)).status_code == 200:
        task = answer.json()
        served.append(Item.objects.get(pk=task["item"]["id"]).is_gold)
        client.post(task["submit_url"], {"ranking": ranking_for(task)}, format="json")
    # The ordinary item a gold task stands in for keeps its place and comes once the gold
    # items are spent.
    assert served == [True] * 5 + [False] * 2
    assert not Item.objects.filter(leases_live__gt=0).exists()


def test_a_held_gold_task_asked_for_again_keeps_its_reason(make_project, make_annotators,
                                                           client_for):
    project = make_project(overlap=2, gold_rate=1.0)
    add_items(project, 3)
    add_items(project, 1, gold=True, start=100)
    alice, bob = make_annotators(project, 2)
    bob_task = client_for(bob).get(f"/api/v1/projects/{project.pk}/next/").json()
    assert Item.objects.get(pk=bob_task["item"]["id"]).is_gold
    client_for(bob).post(bob_task["submit_url"], {"ranking": ranking_for(bob_task)},
                         format="json")
    bob_next = client_for(bob).get(f"/api/v1/projects/{project.pk}/next/").json()
    assert bob_next["reason"] == reasons.OLDEST
    # Alice: the head of her queue is the item Bob holds, so her gold task says so.
    client = client_for(alice)
    task = client.get(f"/api/v1/projects/{project.pk}/next/").json()
    assert Item.objects.get(pk=task["item"]["id"]).is_gold
    assert task["reason"] == reasons.STARTED
    # Bob finishes, the queue moves on; Alice's held task still reads the same.
    client_for(bob).post(bob_next["submit_url"], {"ranking": ranking_for(bob_next)},
                         format="json")
    assert client.get(f"/api/v1/projects/{project.pk}/next/").json() == task
    stored = Assignment.objects.get(pk=task["assignment"]).reason
    assert stored == 'gold: hidden quality check (shown as "finish started item")'


def test_reasons_shown_name_the_rule_only():
    shown = reasons.shown_to_annotator
    assert shown(stored=reasons.started(labels=3, overlap=5, in_progress=1),
                 is_practice=False) == "finish started item"
    assert shown(stored=reasons.uncertainty(0.0123), is_practice=False) == (
        "active learning: uncertain item")
    assert shown(stored=reasons.OLDEST, is_practice=False) == "oldest open item"
    for instead_of in (reasons.started(labels=1, overlap=2, in_progress=0),
                       reasons.uncertainty(0.5), reasons.OLDEST):
        gold = reasons.hidden_gold(instead_of=instead_of)
        assert reasons.is_hidden_gold(gold)
        assert shown(stored=gold, is_practice=False) == shown(stored=instead_of,
                                                              is_practice=False)
    # Assignments leased before gold took the reason of the task it replaced.
    assert shown(stored=reasons.GOLD, is_practice=False) == reasons.OLDEST
    practice = reasons.practice(2, 3)
    assert shown(stored=practice, is_practice=True) == practice
