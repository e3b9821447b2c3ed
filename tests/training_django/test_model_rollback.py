"""Activating (rolling back to) a reward-model version by hand: managers only, audit-logged,
one active version afterwards, and the outcome of each version's run in the API."""

from __future__ import annotations

import pytest
from django.test import Client

from annotation import services as project_services
from annotation.models import AuditLog
from training.models import ModelVersion, TrainingRun


def _versions(project):
    """v1 (kept out earlier) and v2, the active one; neither has files: activation needs none."""
    rows = []
    for n, outcome in ((1, "activated: first reward model of the project"),
                       (2, "activated v2: held-out accuracy 0.71 vs 0.64 on 120 pairs, paired "
                           "sign test p=0.03")):
        run = TrainingRun.objects.create(project=project, status="succeeded", progress=1.0,
                                         outcome=outcome)
        rows.append(ModelVersion.objects.create(project=project, version=n, is_active=n == 2,
                                                metrics={"accuracy": 0.6 + n / 20},
                                                artifact_path=f"reward_models/x/{n}",
                                                training_run=run))
    return rows


def _url(project, version):
    return f"/api/v1/projects/{project.pk}/reward-models/{version}/activate/"


def test_a_manager_rolls_back_to_v1_and_it_is_audited(roles, client_for):
    project, users = roles
    v1, v2 = _versions(project)
    res = client_for(users["manager"]).post(_url(project, 1), {}, format="json")
    assert res.status_code == 200, res.content
    body = res.json()
    assert (body["name"], body["is_active"]) == ("v1", True)
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert v1.is_active and v1.activated_at is not None and not v2.is_active
    log = AuditLog.objects.get(action="reward_model.activate")
    assert (log.actor, log.project, log.target_id, log.data["version"]) == (
        users["manager"], project, str(v1.pk), 1)

    # Activating the active version again changes nothing and logs nothing.
    again = client_for(users["manager"]).post(_url(project, 1), {}, format="json")
    assert again.status_code == 200 and again.json()["is_active"]
    assert AuditLog.objects.filter(action="reward_model.activate").count() == 1
    # And forward again to v2.
    assert client_for(users["manager"]).post(_url(project, 2), {}, format="json").json()[
        "is_active"]
    assert list(ModelVersion.objects.filter(project=project, is_active=True)) == [v2]


@pytest.mark.parametrize("who,expected", [
    (None, 401), ("outsider", 404), ("annotator", 403), ("reviewer", 403),
])
def test_only_managers_activate(roles, client_for, who, expected):
    project, users = roles
    v1, v2 = _versions(project)
    res = client_for(users.get(who)).post(_url(project, 1), {}, format="json")
    assert res.status_code == expected
    assert set(res.json()) == {"detail", "errors"}
    v2.refresh_from_db()
    assert v2.is_active and not ModelVersion.objects.get(pk=v1.pk).is_active
    assert not AuditLog.objects.filter(action="reward_model.activate").exists()


def test_an_unknown_version_or_a_policy_number_is_a_404_in_words(roles, client_for):
    project, users = roles
    _versions(project)
    ModelVersion.objects.create(project=project, kind="policy", version=7,
                                artifact_path="policies/x/7")
    for number in (7, 99):
        res = client_for(users["manager"]).post(_url(project, number), {}, format="json")
        assert res.status_code == 404
        assert res.json()["detail"] == f"This project has no reward model v{number}."
    assert ModelVersion.objects.get(project=project, kind="reward", is_active=True).version == 2


def test_the_versions_runs_say_why_each_version_was_activated(roles, client_for):
    project, users = roles
    v1, v2 = _versions(project)
    client = client_for(users["reviewer"])
    rows = client.get(f"/api/v1/projects/{project.pk}/reward-models/").json()["results"]
    assert [(r["name"], r["training_run"]) for r in rows] == [
        ("v2", v2.training_run_id), ("v1", v1.training_run_id)]
    run = client.get(f"/api/v1/training-runs/{v2.training_run_id}/").json()
    assert run["outcome"].startswith("activated v2: held-out accuracy 0.71 vs 0.64 on 120 pairs")


def test_the_page_keeps_the_last_mode_and_offers_roll_back_to_managers_only(roles, make_user):
    project, users = roles
    v1, v2 = _versions(project)
    TrainingRun.objects.filter(pk=v2.training_run_id).update(params={"mode": "finetune"})
    other = project_services.create_project(actor=make_user("rm-elsewhere"), name="Elsewhere")
    theirs = TrainingRun.objects.create(project=other, status="failed", error="their-secret")

    def html(user, query=""):
        client = Client()
        client.force_login(user)
        return client.get(f"/projects/{project.pk}/models/{query}").content.decode()

    manager = html(users["manager"])
    assert '<option value="finetune" selected>' in manager
    assert (f'data-url="/api/v1/projects/{project.pk}/reward-models/1/activate/"' in manager
            and "Roll back to v1" in manager and "Activate v2" not in manager)
    reviewer = html(users["reviewer"])
    assert "button" not in reviewer.split('id="versions"')[1].split("</table>")[0]
    # ?run= picks any of this project's runs; another project's run is never shown.
    assert f"Run {v1.training_run_id}</h2>" in html(users["manager"], f"?run={v1.training_run_id}")
    foreign = html(users["manager"], f"?run={theirs.pk}")
    assert "their-secret" not in foreign and "Latest run</h2>" in foreign
