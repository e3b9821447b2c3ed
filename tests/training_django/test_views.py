"""The models page: who sees it, the train button (CSRF), the loss chart."""

from __future__ import annotations

import pytest
from django.test import Client

from training.models import ModelVersion, TrainingRun
from training.views import loss_chart


def _client(user, **kwargs):
    client = Client(**kwargs)
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.parametrize("who,expected", [
    ("outsider", 404), ("annotator", 404), ("reviewer", 200), ("manager", 200), ("staff", 200),
])
def test_models_page_is_for_reviewers_and_managers(roles, who, expected):
    project, users = roles
    res = _client(users[who]).get(f"/projects/{project.pk}/models/")
    assert res.status_code == expected


def test_models_page_needs_a_login(roles):
    project, _ = roles
    res = Client().get(f"/projects/{project.pk}/models/")
    assert res.status_code == 302 and "/login/" in res["Location"]


def test_page_lists_versions_the_active_one_and_the_latest_runs_curve(roles):
    project, users = roles
    run = TrainingRun.objects.create(project=project, status="succeeded", progress=1.0,
                                     loss_curve=[[0.25, 0.69], [0.5, 0.5], [1.0, 0.3]],
                                     outcome="activated: first reward model of the project")
    ModelVersion.objects.create(project=project, version=1, is_active=True,
                                      metrics={"accuracy": 0.875}, artifact_path="x/1",
                                      training_run=run)
    html = _client(users["reviewer"]).get(f"/projects/{project.pk}/models/").content.decode()
    assert "v1" in html and "<span class=\"badge\">active</span>" in html and "0.875" in html
    assert '<polyline id="loss-curve"' in html
    assert "activated: first reward model" in html
    assert 'id="train-now"' not in html  # reviewers do not train
    manager_html = _client(users["manager"]).get(f"/projects/{project.pk}/models/").content.decode()
    assert 'id="train-now"' in manager_html and "csrfmiddlewaretoken" in manager_html


def test_train_button_queues_a_run_for_managers_only(roles):
    project, users = roles
    url = f"/projects/{project.pk}/models/train/"
    assert _client(users["reviewer"]).post(url, {"mode": "head"}).status_code == 404
    assert not TrainingRun.objects.exists()
    res = _client(users["manager"]).post(url, {"mode": "head"})
    assert res.status_code == 302
    run = TrainingRun.objects.get()
    assert run.params == {"mode": "head"} and run.requested_by == users["manager"]
    again = _client(users["manager"]).post(url, {"mode": "head"}, follow=True)
    assert "already queued" in again.content.decode()
    assert TrainingRun.objects.count() == 1


def test_train_button_needs_the_csrf_token(roles):
    project, users = roles
    client = _client(users["manager"], enforce_csrf_checks=True)
    assert client.post(f"/projects/{project.pk}/models/train/").status_code == 403
    assert not TrainingRun.objects.exists()


def test_project_page_links_to_models_for_reviewers_not_annotators(roles):
    project, users = roles
    link = f"/projects/{project.pk}/models/"
    assert link in _client(users["reviewer"]).get(f"/projects/{project.pk}/").content.decode()
    assert link not in _client(users["annotator"]).get(f"/projects/{project.pk}/").content.decode()


def test_loss_chart_scales_into_the_box():
    chart = loss_chart([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])
    points = [tuple(map(float, p.split(","))) for p in chart["points"].split()]
    assert points[0][0] < points[1][0] < points[2][0]
    assert points[0][1] < points[1][1] < points[2][1]  # lower loss is drawn lower
    assert all(0 <= x <= chart["width"] and 0 <= y <= chart["height"] for x, y in points)
    assert loss_chart([[1.0, 0.3]]) is None


def test_admin_lists_runs_and_versions(roles, django_user_model):
    project, _ = roles
    run = TrainingRun.objects.create(project=project, status="failed", error="boom")
    ModelVersion.objects.create(project=project, version=1, metrics={"accuracy": 0.7},
                                      artifact_path="reward_models/1/1", training_run=run)
    admin = django_user_model.objects.create_superuser("rm-admin", password="x" * 12)
    client = _client(admin)
    for url in ("/admin/training/trainingrun/", "/admin/training/modelversion/",
                f"/admin/training/trainingrun/{run.pk}/change/"):
        assert client.get(url).status_code == 200, url
