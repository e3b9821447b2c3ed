"""Fixtures of the assignment engine's tests: projects with items, annotators, and a loop
that ranks over the API the way a client does."""

from __future__ import annotations

import random

import pytest

from annotation import services as project_services
from annotation.models import Item, Membership, Project, Response


def add_items(project: Project, n: int, *, k: int | None = None, gold: bool = False,
              start: int = 0, uncertainty: list[float | None] | None = None) -> list[Item]:
    """``n`` items of ``k`` responses each. Gold items rank their responses in import order
    (response 0 best), one per tier."""
    k = k or project.responses_per_item
    kind = "gold" if gold else "item"
    # Prompts and texts do not say which items are gold: the privacy tests grep answers.
    items = Item.objects.bulk_create([
        Item(project=project, prompt=f"prompt {start + i}",
             content_hash=f"{kind}-{project.pk}-{start + i}", is_gold=gold,
             gold_ranking=[] if gold else None,
             uncertainty=uncertainty[i] if uncertainty else None)
        for i in range(n)
    ])
    responses = Response.objects.bulk_create([
        Response(item=item, position=p, text=f"answer {p} to prompt {start + i}")
        for i, item in enumerate(items) for p in range(k)
    ])
    if gold:
        by_item: dict[int, list[int]] = {}
        for response in responses:
            by_item.setdefault(response.item_id, []).append(response.pk)
        for item in items:
            item.gold_ranking = [[rid] for rid in by_item[item.pk]]
        Item.objects.bulk_update(items, ["gold_ranking"])
    return items


def ranking_for(task: dict, *, order: str = "shown") -> list[list[int]]:
    ids = [r["id"] for r in task["item"]["responses"]]
    if order == "ids":
        ids = sorted(ids)
    return [[rid] for rid in ids]


@pytest.fixture
def manager(make_user):
    return make_user("boss")


@pytest.fixture
def make_project(manager):
    def make(**fields) -> Project:
        fields.setdefault("name", "Ranking")
        fields.setdefault("responses_per_item", 2)
        fields.setdefault("overlap", 2)
        return project_services.create_project(actor=manager, **fields)

    return make


@pytest.fixture
def make_annotators(make_user, manager):
    def make(project: Project, n: int, *, prefix: str = "ann",
             role: str = Membership.Role.ANNOTATOR) -> list:
        users = []
        for i in range(n):
            user = make_user(f"{prefix}{i}")
            project_services.set_membership(actor=manager, project=project, user=user, role=role)
            users.append(user)
        return users

    return make


@pytest.fixture
def seeded():
    return random.Random(1234)
