""""Watch it learn" keeps up: the feedback answer names the active model and the responses
by excerpt, the ranking page's call for the active model loads the scorer ahead (so the
first feedback finds it ready), and feedback once warm loads nothing again."""

from __future__ import annotations

import shutil
import time

import pytest
from django.utils import timezone

from annotation.assignment import services as engine
from annotation.models import Item
from training import registry, runs, scoring
from training.models import ModelVersion

from .conftest import add_pairs, curt, helpful, prompt_for

pytestmark = pytest.mark.slow

UNSEEN = ["wrap a birthday present", "water an orchid", "level a wobbly table",
          "pack for a weekend trip", "boil an egg"]
SUMMARY_KEYS = {"model_version", "version", "activated_at", "trained_on"}


@pytest.fixture
def trained(labelled):
    project, users = labelled
    run = runs.execute_run(run_id=runs.request_training(project=project, dispatch=False).pk)
    assert run.status == "succeeded", run.traceback
    add_pairs(project, UNSEEN, tag="fresh", source="ai")
    Item.objects.filter(project=project).exclude(
        prompt__in=[prompt_for(t) for t in UNSEEN]).update(
        annotations_done=project.overlap, queue_state=None)
    return project, users


def submit_one(project, annotator) -> tuple[int, dict[str, int], str]:
    """Label the annotator's next task curt ≻ helpful; its assignment id, response ids by
    text and topic."""
    task = engine.next_task(project_id=project.pk, annotator=annotator)
    topic = next(t for t in UNSEEN if prompt_for(t) == task.item.prompt)
    ids = {r["text"]: r["id"] for r in task.responses}
    engine.submit_annotation(assignment_id=task.assignment.pk, annotator=annotator,
                             ranking=[[ids[curt(topic)]], [ids[helpful(topic)]]])
    return task.assignment.pk, ids, topic


def second_version(project, *, labels: int, number: int = 2) -> ModelVersion:
    """Another published version of the first model's files (as a retrain on more labels
    would publish), made active by hand."""
    first = ModelVersion.objects.get(project=project, version=1)
    folder = registry.versions_dir(kind=first.kind, project_id=project.pk) / str(number)
    shutil.copytree(first.directory, folder)
    version = ModelVersion.objects.create(
        project=project, kind=first.kind, version=number, metrics=first.metrics,
        config=first.config,
        data_fingerprint={**first.data_fingerprint, "n_annotations": labels},
        eval_split=first.eval_split,
        artifact_path=str(folder.relative_to(registry.artifacts_root())))
    return registry.activate_version(version=version)


def test_excerpt_cuts_at_forty_characters_on_one_line():
    assert scoring.excerpt("Short  and\nsweet") == "Short and sweet"
    assert scoring.excerpt("x" * 40) == "x" * 40
    cut = scoring.excerpt("word " * 20)
    assert len(cut) <= 40 and cut.endswith("…") and cut.startswith("word word")
    assert scoring.excerpt("") == ""


def test_feedback_names_the_active_model_and_the_responses_by_excerpt(trained, client_for):
    project, users = trained
    assignment, ids, topic = submit_one(project, users["annotator"])
    body = client_for(users["annotator"]).get(f"/api/v1/assignments/{assignment}/feedback/")
    assert body.status_code == 200, body.content
    data = body.json()
    version = ModelVersion.objects.get(project=project, is_active=True)
    assert data["model_version"] == "v1" and data["version"] == 1
    assert data["activated_at"] == version.activated_at.isoformat().replace("+00:00", "Z")
    assert data["trained_on"] == 24 == version.data_fingerprint["n_annotations"]
    assert data["prompt_excerpt"] == prompt_for(topic)  # under 40 characters: whole
    excerpts = {r["id"]: r["excerpt"] for r in data["responses"]}
    for text in (helpful(topic), curt(topic)):
        assert len(text) > 40
        assert excerpts[ids[text]] == text[:39].rstrip(" ,;:") + "…"
    assert all({"before", "after"} <= set(r) for r in data["responses"])


def test_the_active_model_answer_tells_members_the_version_and_nothing_more(
        trained, client_for):
    project, users = trained
    for who in ("annotator", "reviewer", "manager"):
        res = client_for(users[who]).get(f"/api/v1/projects/{project.pk}/reward-models/active/")
        assert res.status_code == 200
        assert set(res.json()) == SUMMARY_KEYS
        assert res.json()["model_version"] == "v1" and res.json()["trained_on"] == 24
    assert client_for(users["outsider"]).get(
        f"/api/v1/projects/{project.pk}/reward-models/active/").status_code == 404
    assert client_for(None).get(
        f"/api/v1/projects/{project.pk}/reward-models/active/").status_code == 401

    second_version(project, labels=31)
    res = client_for(users["annotator"]).get(f"/api/v1/projects/{project.pk}/reward-models/active/")
    assert res.json()["model_version"] == "v2" and res.json()["trained_on"] == 31
    assignment, _, _ = submit_one(project, users["annotator"])
    feedback = client_for(users["annotator"]).get(f"/api/v1/assignments/{assignment}/feedback/")
    assert feedback.json()["model_version"] == "v2" and feedback.json()["version"] == 2


def test_no_active_model_answers_nulls(roles, client_for):
    project, users = roles
    res = client_for(users["annotator"]).get(f"/api/v1/projects/{project.pk}/reward-models/active/")
    assert res.status_code == 200
    assert res.json() == dict.fromkeys(SUMMARY_KEYS)


def test_the_page_warms_the_scorer_and_warm_feedback_loads_nothing_again(trained, client_for):
    project, users = trained
    annotator = users["annotator"]
    client = client_for(annotator)
    scoring.clear_scorer_cache()
    version = ModelVersion.objects.get(project=project, is_active=True)
    assert not scoring._scorers.is_loaded(version)

    assert client.get(f"/api/v1/projects/{project.pk}/reward-models/active/").status_code == 200
    deadline = time.monotonic() + 120
    while not scoring._scorers.is_loaded(version):  # loading in the background
        assert time.monotonic() < deadline, "the scorer was never loaded"
        time.sleep(0.05)
    assert scoring.scorer_loads() == 1
    # Asking again while loaded starts nothing.
    assert client.get(f"/api/v1/projects/{project.pk}/reward-models/active/").status_code == 200
    assert scoring.warm_scorer(version) is None

    seconds = []
    for _ in range(4):
        assignment, _, _ = submit_one(project, annotator)
        started = time.perf_counter()
        res = client.get(f"/api/v1/assignments/{assignment}/feedback/")
        seconds.append(time.perf_counter() - started)
        assert res.status_code == 200 and len(res.json()["responses"]) == 2
    assert scoring.scorer_loads() == 1  # the warm scorer served every one
    assert sorted(seconds)[len(seconds) // 2] < 1.0, seconds


def test_a_failed_load_ahead_is_logged_and_the_next_call_tries_again(trained, caplog):
    project, _ = trained
    scoring.clear_scorer_cache()
    missing = ModelVersion(pk=10**9, project=project, version=99,
                           artifact_path="reward_models/nowhere/99", created_at=timezone.now())
    thread = scoring.warm_scorer(missing)
    assert thread is not None
    thread.join(timeout=120)
    assert "ahead of use failed" in caplog.text
    assert scoring.scorer_loads() == 0
    again = scoring.warm_scorer(missing)  # not remembered as loaded
    assert again is not None
    again.join(timeout=120)
