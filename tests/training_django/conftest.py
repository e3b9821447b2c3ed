"""Fixtures of the reward-model tests: small labelled projects whose preference a frozen
MiniLM encoder and a scalar head can learn in seconds (helpful answers beat curt refusals),
and the roles of a project."""

from __future__ import annotations

import random

import pytest

from annotation import services as project_services
from annotation.models import Annotation, Item, Membership, Project, Response

TOPICS = [
    "bake sourdough bread", "change a bicycle tyre", "learn basic Spanish", "plant tomatoes",
    "write a cover letter", "fix a leaking tap", "train for a 5k run", "brew green tea",
    "paint a bedroom wall", "back up a laptop", "iron a dress shirt", "start a compost heap",
    "read a bus timetable", "clean a cast iron pan", "tune a guitar", "fold a fitted sheet",
    "set up a fish tank", "sharpen a kitchen knife", "make a budget", "wash a wool jumper",
    "hang a picture frame", "cook brown rice", "study for an exam", "replace a light bulb",
    "teach a dog to sit", "knit a scarf", "unclog a drain", "make pancakes",
    "prepare for a job interview", "care for a cactus", "repot a houseplant", "defrost a freezer",
]

# Tiny and fast: frozen encoder, a few epochs. The trainer's other defaults stay.
FAST = {"mode": "head", "epochs": 30, "eval_fraction": 0.25, "seed": 0}


def helpful(topic: str) -> str:
    return (f"Happy to help! To {topic}, start with the basics, go step by step, and "
            f"tell me if any part is unclear so we can work through it together.")


def curt(topic: str) -> str:
    return f"No. Figure out how to {topic} yourself and stop asking me."


def prompt_for(topic: str) -> str:
    return f"How do I {topic}?"


def add_pairs(project: Project, topics: list[str], *, flip: bool = False, source: str = "import",
              annotators=(), seed: int = 0, tag: str = "t") -> list[Item]:
    """One item per topic with a helpful and a curt answer in random positions, labelled
    helpful ≻ curt (curt ≻ helpful with ``flip``): one imported label, or one human label
    per annotator given."""
    rng = random.Random(seed)
    items = []
    for n, topic in enumerate(topics):
        item = Item.objects.create(project=project, prompt=prompt_for(topic),
                                   content_hash=f"{tag}-{project.pk}-{n}-{topic}")
        texts = [helpful(topic), curt(topic)]
        order = [0, 1] if rng.random() < 0.5 else [1, 0]
        rows = [Response.objects.create(item=item, position=pos, text=texts[which])
                for pos, which in enumerate(order)]
        by_text = {r.text: r.pk for r in rows}
        good, bad = by_text[helpful(topic)], by_text[curt(topic)]
        ranking = [[bad], [good]] if flip else [[good], [bad]]
        if annotators:
            for user in annotators:
                Annotation.objects.create(project=project, item=item, annotator=user,
                                          source=Annotation.Source.HUMAN, ranking=ranking)
        else:
            Annotation.objects.create(project=project, item=item, source=source, ranking=ranking)
        items.append(item)
    return items


def learning_project(*, make_user, capture_on_commit, name: str, fresh: list[str]):
    """A K=2 project whose reward model v1 learned helpful ≻ curt from 24 labelled items,
    plus one unlabelled item per ``fresh`` topic for the annotator (the labelled ones count
    as fully annotated). Returns (project, annotator)."""
    from training import runs as training_runs

    manager = make_user("coach")
    annotator = make_user("learner")
    project = project_services.create_project(actor=manager, name=name, responses_per_item=2,
                                              overlap=1)
    project_services.set_membership(actor=manager, project=project, user=annotator,
                                    role=Membership.Role.ANNOTATOR)
    project.settings = {"reward_model": dict(FAST)}
    project.save(update_fields=["settings"])
    add_pairs(project, TOPICS[:24])
    with capture_on_commit(execute=True):
        run = training_runs.request_training(project=project)
    run.refresh_from_db()
    assert run.status == "succeeded", run.traceback
    add_pairs(project, fresh, tag="fresh", source="ai")
    Item.objects.filter(project=project).exclude(
        prompt__in=[prompt_for(t) for t in fresh]).update(
        annotations_done=project.overlap, queue_state=None)
    return project, annotator


@pytest.fixture
def roles(make_user):
    """A project and one user per role, plus an outsider and a staff user."""
    manager = make_user("rm-manager")
    project = project_services.create_project(actor=manager, name="Reward", responses_per_item=2,
                                              overlap=2)
    users = {"manager": manager}
    for role in (Membership.Role.REVIEWER, Membership.Role.ANNOTATOR):
        users[str(role)] = make_user(f"rm-{role}")
        project_services.set_membership(actor=manager, project=project, user=users[str(role)],
                                        role=role)
    users["outsider"] = make_user("rm-outsider")
    users["staff"] = make_user("rm-staff", staff=True)
    return project, users


@pytest.fixture
def labelled(roles):
    """The roles' project with 24 labelled items and the tiny training settings."""
    project, users = roles
    project.settings = {"reward_model": dict(FAST)}
    project.save(update_fields=["settings"])
    add_pairs(project, TOPICS[:24])
    return project, users


# The tiny policy, small enough to train in seconds: a 1-layer, 32-wide model on a
# 300-token vocabulary, a few passes of SFT and DPO.
FAST_POLICY = {"vocab_size": 300, "d_model": 32, "n_layers": 1, "n_heads": 2, "d_ff": 64,
               "max_prompt_tokens": 32, "max_response_tokens": 40, "sft_epochs": 3,
               "dpo_epochs": 2, "batch_size": 8, "eval_fraction": 0.25, "seed": 0,
               "comparison_prompts": 3}


@pytest.fixture
def policy_project(roles):
    """The roles' project with 24 labelled items and the tiny policy settings."""
    project, users = roles
    project.settings = {"reward_model": dict(FAST), "policy": dict(FAST_POLICY)}
    project.save(update_fields=["settings"])
    add_pairs(project, TOPICS[:24])
    return project, users


@pytest.fixture
def page(live_server, new_page):
    """A Chromium tab for the training pages' browser tests."""
    from django.db import connections

    tab = new_page({"width": 1280, "height": 900})
    tab.set_default_timeout(30_000)
    yield tab
    # ORM calls made while Playwright's loop runs get their own connections (Django's
    # connections are per async context): close them, or PostgreSQL keeps the test
    # database busy at teardown.
    connections.close_all()


def log_in(page, live_server, username):
    from tests.conftest import PASSWORD

    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("form button[type=submit]")
