"""Practice (qualification) mode: gold items with instant feedback before real work."""

from __future__ import annotations

import pytest

from annotation.models import Assignment, Membership

from .conftest import add_items


def _gold_order(task: dict) -> list[list[int]]:
    """The gold answer of the fixtures: responses in import order, i.e. by id."""
    return [[rid] for rid in sorted(r["id"] for r in task["item"]["responses"])]


def _wrong(task: dict) -> list[list[int]]:
    return list(reversed(_gold_order(task)))


@pytest.fixture
def practice_project(make_project):
    project = make_project(overlap=1, responses_per_item=3,
                           settings={"qualification": {"required": 3, "min_accuracy": 0.6}})
    add_items(project, 4)
    add_items(project, 6, gold=True, start=100)
    return project


def _next(client, project):
    return client.get(f"/api/v1/projects/{project.pk}/next/")


def _submit(client, task, ranking):
    return client.post(f"/api/v1/assignments/{task['assignment']}/submit/",
                       {"ranking": ranking}, format="json")


def test_practice_first_with_feedback_then_real_tasks(practice_project, make_annotators,
                                                      client_for):
    (user,) = make_annotators(practice_project, 1)
    client = client_for(user)
    answers = [_gold_order, _wrong, _gold_order]
    for number, answer in enumerate(answers, start=1):
        task = _next(client, practice_project).json()
        assert task["is_practice"] is True
        assert task["reason"] == f"practice: gold item {number} of 3"
        assert "gold_ranking" not in task["item"]
        result = _submit(client, task, answer(task))
        assert result.status_code == 201
        feedback = result.json()["practice"]
        assert feedback["gold_ranking"] == _gold_order(task)
        assert feedback["correct"] is (answer is _gold_order)
        assert feedback["required"] == 3 and feedback["answered"] == number
    assert feedback["qualified"] is True
    assert feedback["answered_correctly"] == 2
    assert feedback["accuracy"] == pytest.approx(2 / 3)
    assert Membership.objects.get(user=user).qualified_at is not None
    real = _next(client, practice_project).json()
    assert real["is_practice"] is False
    assert real["reason"] == "oldest open item"
    result = _submit(client, real, _gold_order(real))
    assert "practice" not in result.json()
    assert Assignment.objects.filter(annotator=user, is_practice=True).count() == 3


def test_falling_short_means_more_practice_then_refusal(practice_project, make_annotators,
                                                        client_for):
    (user,) = make_annotators(practice_project, 1)
    client = client_for(user)
    for _ in range(6):
        task = _next(client, practice_project).json()
        assert task["is_practice"] is True
        feedback = _submit(client, task, _wrong(task)).json()["practice"]
        assert feedback["qualified"] is False
    assert feedback["answered"] == 3 and feedback["accuracy"] == 0
    refused = _next(client, practice_project)
    assert refused.status_code == 403
    assert refused.json()["code"] == "not_qualified"
    assert Membership.objects.get(user=user).qualified_at is None


def test_recent_answers_count_so_a_late_streak_qualifies(practice_project, make_annotators,
                                                         client_for):
    (user,) = make_annotators(practice_project, 1)
    client = client_for(user)
    for answer in (_wrong, _wrong, _gold_order, _gold_order):
        task = _next(client, practice_project).json()
        feedback = _submit(client, task, answer(task)).json()["practice"]
    assert task["reason"] == "practice: extra gold item 4 (your last 3 answers count)"
    assert feedback["qualified"] is True  # the last three: wrong, right, right
    assert _next(client, practice_project).json()["is_practice"] is False


def test_practice_items_never_return_as_hidden_gold(practice_project, make_annotators,
                                                    client_for):
    practice_project.gold_rate = 1.0
    practice_project.save()
    (user,) = make_annotators(practice_project, 1)
    client = client_for(user)
    practised = set()
    for _ in range(3):
        task = _next(client, practice_project).json()
        practised.add(task["item"]["id"])
        _submit(client, task, _gold_order(task))
    later = set()
    while (answer := _next(client, practice_project)).status_code == 200:
        task = answer.json()
        assert task["is_practice"] is False
        later.add(task["item"]["id"])
        _submit(client, task, _gold_order(task))
    assert not practised & later
    assert len(later) == 4 + 3  # the real items and the three gold items not practised


def test_replayed_practice_submit_repeats_the_feedback(practice_project, make_annotators,
                                                       client_for):
    (user,) = make_annotators(practice_project, 1)
    client = client_for(user)
    task = _next(client, practice_project).json()
    first = _submit(client, task, _gold_order(task))
    again = _submit(client, task, _gold_order(task))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["practice"] == again.json()["practice"]


def test_without_qualification_settings_there_is_no_practice(make_project, make_annotators,
                                                             client_for):
    project = make_project(overlap=1, settings={"qualification": {"required": 0}})
    add_items(project, 1)
    add_items(project, 1, gold=True, start=10)
    (user,) = make_annotators(project, 1)
    task = _next(client_for(user), project).json()
    assert task["is_practice"] is False
