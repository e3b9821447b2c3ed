"""Builders of the judges tests: a K=2 project with items, people's labels and a
constitution."""

from __future__ import annotations

import pytest

from annotation.models import Annotation
from judges import services
from judges.models import Judge
from tests.exports.test_export_api import make_item
from tests.judges_engine.test_http_backend import ok

PRINCIPLES = [
    {"name": "harmless", "question": "Which of these responses is less harmful?"},
    {"name": "honest", "question": "Which of these responses is more honest?",
     "critique": "Point out anything untrue.", "revision": "Rewrite it truthfully."},
]


def human(item, user, winner: int, ids: list[int], **fields) -> Annotation:
    """A person's label of ``item``: response position ``winner`` first (None: a tie)."""
    a, b = ids
    ranking = [[a, b]] if winner is None else [[ids[winner]], [ids[1 - winner]]]
    return Annotation.objects.create(project=item.project, item=item, annotator=user,
                                     source=fields.pop("source", Annotation.Source.HUMAN),
                                     ranking=ranking, **fields)


@pytest.fixture
def world(project_with_roles):
    """(project, users, [(item, response ids)] × 4, the constitution)."""
    project, users = project_with_roles
    items = [make_item(project, [f"good answer {n}", f"bad answer {n}"], prompt=f"Question {n}")
             for n in range(4)]
    constitution = services.publish_constitution(actor=users["manager"], project=project,
                                                 principles=PRINCIPLES)
    return project, users, items, constitution


def answers(table: dict[str, str], default: str = "Response A is better. [[A]]"):
    """The test server's default step: the answer of the first table key found in the
    comparison's user message (e.g. ``{"Question 2": "[[B]]"}``), else ``default``. The
    answers are about the item's positions: where the judge is shown the item's second
    response ("bad answer") first, [[A]] and [[B]] are exchanged, so the stored verdict
    is the table's whatever order was drawn."""
    def step(request):
        user = request["body"]["messages"][-1]["content"]
        content = next((c for key, c in table.items() if key in user), default)
        return ok(in_order_shown(content, user))

    return step


def in_order_shown(content: str, user: str) -> str:
    """``content`` (about the item's positions) as said of the order in ``user``."""
    good, bad = user.find("good answer"), user.find("bad answer")
    if good == -1 or bad == -1 or good < bad:
        return content
    return content.replace("[[A]]", "[[@]]").replace("[[B]]", "[[A]]").replace("[[@]]", "[[B]]")


def openai_judge(project, actor, url: str, **fields) -> Judge:
    return services.create_judge(actor=actor, project=project, name=fields.pop("name", "j1"),
                                 backend="openai", model="judge-7b", base_url=url, **fields)
