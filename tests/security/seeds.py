"""A world in which a leak would show: two projects, each with a hidden gold item, a peer's
label with a distinctive rationale, a failed training run and an import job, and one user
per role of the role matrix, each with an API token.

Every string that some role must not see is a sentinel: ``AUDIENCE`` names who may see it,
and ``forbidden_for(role)`` is what to look for in that role's answers. Used by the tests
of this folder and by ``benchmarks/fuzz.py`` (which seeds a scratch database with it).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from knox.models import AuthToken

from annotation import services
from annotation.assignment import services as engine
from annotation.models import (
    Assignment,
    ImportJob,
    Item,
    Membership,
    Project,
    Response,
    Snapshot,
    Webhook,
    WebhookDelivery,
)
from judges import services as judges
from judges.models import Judge, JudgeRun
from training.models import ModelVersion, TrainingRun

PASSWORD = "correct-horse-battery-staple"
# The callers of the matrix. "annotator", "reviewer" and "manager" are members of project A;
# "other_annotator" and "other_manager" of project B; "staff" of neither.
ROLES = ["anonymous", "annotator", "other_annotator", "reviewer", "manager", "other_manager",
         "staff"]
USERNAMES = {
    "annotator": "alpha-annotator-q7", "reviewer": "alpha-reviewer-q7",
    "manager": "alpha-manager-q7", "peer": "alpha-peer-q7",
    "other_annotator": "bravo-annotator-q7", "other_manager": "bravo-manager-q7",
    "other_peer": "bravo-peer-q7", "staff": "root-q7",
}
# Each project's members by matrix role (staff act as managers everywhere).
ROLE_IN = {
    "A": {"annotator": "annotator", "reviewer": "reviewer", "manager": "manager",
          "staff": "manager"},
    "B": {"other_annotator": "annotator", "other_manager": "manager", "staff": "manager"},
}
OWNER = {"A": "annotator", "B": "other_annotator"}  # who holds the seeded assignments

A_MEMBERS = {"annotator", "reviewer", "manager", "staff"}
A_REVIEWERS = {"reviewer", "manager", "staff"}
B_MEMBERS = {"other_annotator", "other_manager", "staff"}
B_REVIEWERS = {"other_manager", "staff"}
AUDIENCE: dict[str, set[str]] = {
    # What any member of the project sees: its name, guideline and prompts.
    "alpha-project-q7": A_MEMBERS, "alpha-guideline-q7": A_MEMBERS,
    "alpha-prompt-q7": A_MEMBERS, "alpha-answer-q7": A_MEMBERS,
    # Labels, gold and runs: reviewers and managers only.
    # An annotator reads the reasons they gave themselves in "Your labels" (history.py).
    "alpha-rationale-q7": A_REVIEWERS, "alpha-own-q7": A_REVIEWERS | {"annotator"},
    "alpha-goldmeta-q7": A_REVIEWERS, "alpha-trace-q7": A_REVIEWERS,
    USERNAMES["peer"]: A_REVIEWERS, USERNAMES["manager"]: A_REVIEWERS,
    USERNAMES["reviewer"]: A_REVIEWERS, USERNAMES["annotator"]: A_REVIEWERS | {"annotator"},
    "bravo-project-q7": B_MEMBERS, "bravo-guideline-q7": B_MEMBERS,
    "bravo-prompt-q7": B_MEMBERS, "bravo-answer-q7": B_MEMBERS,
    "bravo-rationale-q7": B_REVIEWERS, "bravo-own-q7": B_REVIEWERS | {"other_annotator"},
    "bravo-goldmeta-q7": B_REVIEWERS, "bravo-trace-q7": B_REVIEWERS,
    USERNAMES["other_peer"]: B_REVIEWERS, USERNAMES["other_manager"]: B_REVIEWERS,
    USERNAMES["other_annotator"]: B_REVIEWERS | {"other_annotator"},
    USERNAMES["staff"]: {"staff"},
}


def forbidden_for(role: str) -> list[str]:
    return sorted(text for text, audience in AUDIENCE.items() if role not in audience)


@dataclass
class Side:
    """One project's seeded objects."""

    project: Project
    leased: Assignment  # the owner's live lease, on the hidden gold item
    submitted: Assignment  # the owner's submitted label
    peer_assignment: Assignment  # a peer's submitted label, with the sentinel rationale
    peer_membership: Membership
    gold: Item
    job: ImportJob
    run: TrainingRun
    webhook: Webhook
    snapshot: Snapshot  # queued: its files are never built in the seeded world
    policy: ModelVersion  # an inactive policy version whose files were never written
    judge: Judge | None = None  # a reward-model judge, with a constitution (judges)
    judge_run: JudgeRun | None = None  # a failed run of it


@dataclass
class World:
    a: Side
    b: Side
    users: dict[str, Any]
    tokens: dict[str, str] = field(default_factory=dict)

    def side(self, name: str) -> Side:
        return self.a if name == "A" else self.b


def _items(project: Project, tag: str, n: int) -> list[Item]:
    items = []
    for i in range(n):
        item = Item.objects.create(project=project, prompt=f"{tag}-prompt-q7 number {i}",
                                   content_hash=f"{tag}-{i}")
        Response.objects.bulk_create([Response(item=item, position=p, text=f"{tag}-answer-q7 {p}")
                                      for p in range(2)])
        items.append(item)
    return items


def _label(user, project: Project, rationale: str) -> Assignment:
    task = engine.next_task(project_id=project.pk, annotator=user, rng=random.Random(1))
    ids = [response["id"] for response in task.responses]
    engine.submit_annotation(assignment_id=task.assignment.pk, annotator=user,
                             ranking=[[ids[1]], [ids[0]]], strength=2, flags=["other"],
                             rationale=rationale)
    return Assignment.objects.get(pk=task.assignment.pk)


def _side(tag: str, manager, annotator, peer, others: list, staff) -> Side:
    project = services.create_project(actor=manager, name=f"{tag}-project-q7",
                                      description=f"{tag}-project-q7 description",
                                      responses_per_item=2, overlap=3, gold_rate=0.0)
    peer_membership = None
    for user, role in [(annotator, "annotator"), (peer, "annotator"), *others]:
        membership, _ = services.set_membership(actor=manager, project=project, user=user,
                                                role=role)
        if user is peer:
            peer_membership = membership
    guideline = services.publish_guideline(actor=manager, project=project,
                                           text=f"# Rules\n{tag}-guideline-q7: be kind.")
    for user in [manager, annotator, peer, staff, *(user for user, _ in others)]:
        services.acknowledge_guideline(user=user, guideline=guideline)
    _items(project, tag, 4)
    gold = Item.objects.create(project=project, prompt=f"{tag}-prompt-q7 hidden gold",
                               content_hash=f"{tag}-gold", is_gold=True, gold_ranking=[],
                               meta={"note": f"{tag}-goldmeta-q7"})
    responses = Response.objects.bulk_create(
        [Response(item=gold, position=p, text=f"{tag}-answer-q7 gold {p}") for p in range(2)])
    gold.gold_ranking = [[responses[1].pk], [responses[0].pk]]
    gold.save(update_fields=["gold_ranking"])
    peer_assignment = _label(peer, project, f"{tag}-rationale-q7")
    submitted = _label(annotator, project, f"{tag}-own-q7")
    # The owner's live lease is the hidden gold item: what they are served must not say so.
    Project.objects.filter(pk=project.pk).update(gold_rate=1.0)
    task = engine.next_task(project_id=project.pk, annotator=annotator, rng=random.Random(1))
    Project.objects.filter(pk=project.pk).update(gold_rate=0.0)
    assert task.item.pk == gold.pk, "the seeded lease should be the gold item"
    job = ImportJob.objects.create(project=project, created_by=manager, format="native",
                                   labels="none", status="failed",
                                   detail=f"{tag}-trace-q7 in line 1",
                                   errors=[{"line": 1, "message": f"{tag}-trace-q7"}])
    run = TrainingRun.objects.create(project=project, status="failed", requested_by=manager,
                                     error=f"{tag}-trace-q7 error",
                                     traceback=f"Traceback: {tag}-trace-q7")
    webhook = Webhook.objects.create(project=project, url=f"https://{tag}.example.com/hook",
                                     secret=f"{tag}-secret-q7-long-enough",
                                     events=["snapshot.ready"], created_by=manager)
    WebhookDelivery.objects.create(webhook=webhook, event="snapshot.ready", payload={},
                                   status="failed", error=f"{tag}-trace-q7")
    snapshot = Snapshot.objects.create(project=project, created_by=manager, format="trl",
                                       params={"format": "trl"})
    # Version numbers count per project: the sides' differ, so that one side's number in
    # the other's URL names nothing.
    number = 1 + sum(map(ord, tag)) % 7
    policy = ModelVersion.objects.create(project=project, kind=ModelVersion.Kind.POLICY,
                                         version=number,
                                         artifact_path=f"policies/{tag}-missing/{number}")
    # An inactive reward model of the same number, for the routes that activate one.
    ModelVersion.objects.create(project=project, kind=ModelVersion.Kind.REWARD, version=number,
                                artifact_path=f"reward_models/{tag}-missing/{number}")
    # Judges: a constitution, a judge and a failed run of it.
    judges.publish_constitution(actor=manager, project=project, principles=[
        {"name": "harmless", "question": "Which response is less harmful?"}])
    judge = judges.create_judge(actor=manager, project=project, name=f"{tag}-judge",
                                backend="reward_model")
    judge_run = JudgeRun.objects.create(judge=judge, status="failed", constitution_version=1,
                                        error=f"{tag}-trace-q7 error")
    project.refresh_from_db()
    return Side(project=project, leased=task.assignment, submitted=submitted,
                peer_assignment=peer_assignment, peer_membership=peer_membership, gold=gold,
                job=job, run=run, webhook=webhook, snapshot=snapshot, policy=policy,
                judge=judge, judge_run=judge_run)


def build_world(*, password: str = PASSWORD, tokens: bool = True) -> World:
    User = get_user_model()
    users = {role: User.objects.create_user(username=name, password=password,
                                            is_staff=role == "staff")
             for role, name in USERNAMES.items()}
    a = _side("alpha", users["manager"], users["annotator"], users["peer"],
              [(users["reviewer"], "reviewer")], users["staff"])
    b = _side("bravo", users["other_manager"], users["other_annotator"], users["other_peer"],
              [], users["staff"])
    world = World(a=a, b=b, users=users)
    if tokens:
        world.tokens = {role: AuthToken.objects.create(user=user)[1]
                        for role, user in users.items()}
    return world
