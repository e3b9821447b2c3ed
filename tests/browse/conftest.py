"""A project whose items are in every state of the browser, each reached through the real
services: labels by next_task + submit, skips by skip, a review by review_item, audit rows by
services.audit."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from annotation import services
from annotation.assignment import services as engine
from annotation.models import Item, Membership, Project, Response

SKIP_REASON = "The prompt is in French and I cannot judge it"


def add_items(project: Project, n: int, *, start: int = 0, gold: bool = False) -> list[Item]:
    """``n`` items of two responses each; prompts "prompt <i>" and answers "answer <p> to
    prompt <i>". A gold item ranks its responses in import order."""
    items = []
    for i in range(start, start + n):
        item = Item.objects.create(project=project, prompt=f"prompt {i}",
                                   content_hash=f"{project.pk}-{i}", is_gold=gold,
                                   gold_ranking=[] if gold else None)
        responses = Response.objects.bulk_create([
            Response(item=item, position=p, text=f"answer {p} to prompt {i}",
                     model=f"model-{p}") for p in range(2)])
        if gold:
            item.gold_ranking = [[r.pk] for r in responses]
            item.save(update_fields=["gold_ranking"])
        items.append(item)
    return items


def label(project: Project, user, **details):
    """``user``'s next task, submitted with the responses in display order."""
    task = engine.next_task(project_id=project.pk, annotator=user, rng=random.Random(1))
    ranking = [[r["id"]] for r in task.responses]
    engine.submit_annotation(assignment_id=task.assignment.pk, annotator=user,
                             ranking=ranking, **details)
    return task


def skip(project: Project, user, reason: str = SKIP_REASON):
    task = engine.next_task(project_id=project.pk, annotator=user, rng=random.Random(1))
    engine.skip_assignment(assignment_id=task.assignment.pk, annotator=user, reason=reason)
    return task


@dataclass
class States:
    project: Project
    users: dict
    complete: Item  # two labels, one flagged: also needs review
    in_progress: Item  # skipped by ann0, then leased by ann1
    open: list[Item] = field(default_factory=list)
    gold: Item | None = None
    other_item: Item | None = None  # an item of another project


@pytest.fixture
def make_member(make_user):
    def make(project, username, role, actor):
        user = make_user(username)
        services.set_membership(actor=actor, project=project, user=user, role=role)
        return user

    return make


@pytest.fixture
def states(make_user, make_member) -> States:
    manager = make_user("boss")
    project = services.create_project(actor=manager, name="Browsing", responses_per_item=2,
                                      overlap=2)
    users = {"manager": manager}
    for name in ("ann0", "ann1"):
        users[name] = make_member(project, name, Membership.Role.ANNOTATOR, manager)
    users["reviewer"] = make_member(project, "rev", Membership.Role.REVIEWER, manager)
    users["outsider"] = make_user("outsider")
    users["staff"] = make_user("root", staff=True)
    complete, in_progress, *rest = add_items(project, 4)
    gold = add_items(project, 1, start=4, gold=True)[0]
    label(project, users["ann0"], strength=None, flags=["harmful"], rationale="R0 is rude",
          duration_ms=12_300)
    label(project, users["ann1"], rationale="both fine, first better", duration_ms=4000)
    skip(project, users["ann0"])
    engine.next_task(project_id=project.pk, annotator=users["ann1"], rng=random.Random(1))
    other_manager = make_user("other-boss")
    other = services.create_project(actor=other_manager, name="Elsewhere", responses_per_item=2)
    other_item = add_items(other, 1, start=100)[0]
    return States(project=project, users=users, complete=complete, in_progress=in_progress,
                  open=rest, gold=gold, other_item=other_item)
