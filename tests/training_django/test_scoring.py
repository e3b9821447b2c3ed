"""Scoring with the active model: the score API, "watch it learn" feedback, active learning."""

from __future__ import annotations

import hashlib

import pytest

from annotation.assignment import services as engine
from annotation.models import Item
from training import runs, scoring
from training.models import ModelVersion

from .conftest import add_pairs, curt, helpful, prompt_for

pytestmark = pytest.mark.slow

UNSEEN = "assemble a bookshelf"  # not among the training topics


@pytest.fixture
def trained(labelled, django_capture_on_commit_callbacks):
    project, users = labelled
    with django_capture_on_commit_callbacks(execute=True):
        run = runs.request_training(project=project)
    run.refresh_from_db()
    assert run.status == "succeeded", run.traceback
    return project, users


def _score(client, project, body):
    return client.post(f"/api/v1/projects/{project.pk}/reward-models/score/", body, format="json")


@pytest.mark.parametrize("who,expected", [
    (None, 401), ("outsider", 404), ("annotator", 200), ("reviewer", 200), ("manager", 200),
    ("staff", 200),
])
def test_score_permissions(trained, client_for, who, expected):
    project, users = trained
    res = _score(client_for(users.get(who)), project,
                 {"prompt": prompt_for(UNSEEN), "responses": [helpful(UNSEEN), curt(UNSEEN)]})
    assert res.status_code == expected
    if expected == 200:
        body = res.json()
        assert body["model_version"] == "v1"
        helpful_score, curt_score = body["scores"]
        assert helpful_score > curt_score  # what the labels taught it, on a new prompt


def test_messages_score_like_the_flattened_prompt(trained, client_for):
    project, users = trained
    client = client_for(users["annotator"])
    responses = [helpful(UNSEEN), curt(UNSEEN)]
    by_messages = _score(client, project, {
        "messages": [{"role": "user", "content": prompt_for(UNSEEN)}], "responses": responses})
    by_prompt = _score(client, project, {"prompt": f"User: {prompt_for(UNSEEN)}",
                                         "responses": responses})
    assert by_messages.status_code == 200
    assert by_messages.json()["scores"] == pytest.approx(by_prompt.json()["scores"])


def test_listing_shows_the_active_version_with_metrics(trained, client_for):
    project, users = trained
    res = client_for(users["reviewer"]).get(f"/api/v1/projects/{project.pk}/reward-models/")
    [row] = res.json()["results"]
    assert row["version"] == 1 and row["name"] == "v1" and row["is_active"] is True
    assert row["metrics"]["accuracy"] >= 0.8 and row["training_run"]
    run = client_for(users["reviewer"]).get(f"/api/v1/training-runs/{row['training_run']}/")
    assert run.json()["reward_model"] == {"id": row["id"], "version": 1, "name": "v1",
                                          "is_active": True}


def _digest(folder) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def test_feedback_shows_the_label_pulling_the_scores(trained, client_for):
    project, users = trained
    annotator = users["annotator"]
    add_pairs(project, [UNSEEN], tag="fresh", source="ai")  # unlabelled for humans
    fresh = Item.objects.get(project=project, prompt=prompt_for(UNSEEN))
    Item.objects.filter(project=project).exclude(pk=fresh.pk).update(
        annotations_done=project.overlap, queue_state=None)
    task = engine.next_task(project_id=project.pk, annotator=annotator)
    assert task.item.pk == fresh.pk
    ids = {r["text"]: r["id"] for r in task.responses}
    # The annotator prefers the curt answer, against what the model learned.
    chosen, rejected = ids[curt(UNSEEN)], ids[helpful(UNSEEN)]
    engine.submit_annotation(assignment_id=task.assignment.pk, annotator=annotator,
                             ranking=[[chosen], [rejected]])
    version = ModelVersion.objects.get(project=project)
    files_before = _digest(version.directory)
    client = client_for(annotator)
    scores_before = _score(client, project, {"prompt": prompt_for(UNSEEN),
                                             "responses": [curt(UNSEEN), helpful(UNSEEN)]}).json()

    res = client.get(f"/api/v1/assignments/{task.assignment.pk}/feedback/")
    assert res.status_code == 200
    body = res.json()
    assert body["model_version"] == "v1"
    rows = {r["id"]: r for r in body["responses"]}
    assert set(rows) == {chosen, rejected}
    gap_before = rows[chosen]["before"] - rows[rejected]["before"]
    gap_after = rows[chosen]["after"] - rows[rejected]["after"]
    assert gap_after > gap_before
    assert rows[chosen]["before"] == pytest.approx(scores_before["scores"][0], abs=1e-4)

    # Nothing was published, saved or changed in the model others are served.
    assert ModelVersion.objects.filter(project=project).count() == 1
    assert _digest(version.directory) == files_before
    scores_after = _score(client, project, {"prompt": prompt_for(UNSEEN),
                                            "responses": [curt(UNSEEN), helpful(UNSEEN)]}).json()
    assert scores_after["scores"] == pytest.approx(scores_before["scores"], abs=1e-6)


def test_active_learning_scores_open_items_only(trained):
    project, _ = trained
    Item.objects.filter(project=project).update(uncertainty=None)
    items = list(Item.objects.filter(project=project).order_by("pk"))
    closed = items[:5]
    Item.objects.filter(pk__in=[i.pk for i in closed]).update(annotations_done=project.overlap)
    from training.celery_tasks import score_items_for_active_learning

    assert score_items_for_active_learning.apply(args=[project.pk]).get() == len(items) - 5
    values = dict(Item.objects.filter(project=project).values_list("pk", "uncertainty"))
    assert all(values[i.pk] is None for i in closed)
    open_items = [i for i in items if i not in closed]
    assert all(values[i.pk] is not None and values[i.pk] >= 0 for i in open_items)
    # The value is the gap between the two responses' scores.
    item = open_items[0]
    texts = list(item.responses.order_by("position").values_list("text", flat=True))
    scores = scoring.score_texts(project=project, prompt=item.prompt, responses=texts)["scores"]
    assert values[item.pk] == pytest.approx(abs(scores[0] - scores[1]), abs=1e-5)


def test_activation_queues_active_learning(trained):
    project, _ = trained
    # The fixture's run activated v1, whose on-commit hook scored the open items.
    assert not Item.objects.filter(project=project, uncertainty__isnull=True).exists()
