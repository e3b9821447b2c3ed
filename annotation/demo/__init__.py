"""Demo data written for Rankwise: prompts with three responses in clearly different styles
(concise and correct; long and rambling; confident and wrong or harmful)."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction

from annotation import services
from annotation.models import Membership, Project

HERE = Path(__file__).resolve().parent
PROJECT_NAME = "Demo: helpful, honest, harmless"
# Demo logins are fixed so the README can name them; `load_demo` is for local trials only.
DEMO_USERS = [
    ("demo-manager", "rankwise-demo-manager", Membership.Role.MANAGER),
    ("demo-annotator-1", "rankwise-demo-annotator", Membership.Role.ANNOTATOR),
    ("demo-annotator-2", "rankwise-demo-annotator", Membership.Role.ANNOTATOR),
]


@transaction.atomic
def load_demo() -> tuple[Project, list[tuple[str, str, str]], dict | None]:
    """Create (or reuse) the demo users and project; import the demo items once."""
    from annotation.imports.services import import_items

    User = get_user_model()
    users = {}
    for username, password, _role in DEMO_USERS:
        user, created = User.objects.get_or_create(username=username)
        if created:
            user.set_password(password)
            user.save()
        users[username] = user
    manager = users["demo-manager"]
    project = Project.objects.filter(name=PROJECT_NAME).first()
    if project is None:
        project = services.create_project(
            actor=manager,
            name=PROJECT_NAME,
            description="Rank three answers per prompt: concise, rambling, and confidently "
            "wrong. Watch the reward model learn what you prefer.",
            responses_per_item=3,
            overlap=2,
            gold_rate=0.2,
            # Train a first reward model as soon as a handful of labels exist, so the
            # "watch it learn" panel has something to show within minutes.
            settings={"reward_model": {"auto": True, "interval_minutes": 2,
                                       "min_new_comparisons": 4}},
        )
        services.publish_guideline(actor=manager, project=project,
                                   text=(HERE / "guidelines.md").read_text())
    for username, _password, role in DEMO_USERS:
        services.set_membership(actor=manager, project=project, user=users[username], role=role)
    result = None
    if not project.items.exists():
        with open(HERE / "demo_items.jsonl", "rb") as source:
            result = import_items(actor=manager, project=project, source=source,
                                  format="native", labels="none")
    return project, [(u, p, str(r)) for u, p, r in DEMO_USERS], result
