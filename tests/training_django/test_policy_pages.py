"""The policies and compare pages: who sees them, what they show of real trained policies,
the train and candidates forms (CSRF, managers only, a service's refusal as a message).

Policies are trained through the real path (a queued run executed on commit) with the
smallest model and the fewest steps the trainer allows, so a run takes seconds."""

from __future__ import annotations

import re

import pytest
from django.template.defaultfilters import floatformat
from django.test import Client
from django.utils.html import escape
from pytest_django.asserts import assertInHTML

from annotation.prompts.models import PendingPrompt
from rankwise.errors import ApplicationError
from training import candidates, generation, policy_runs, runs
from training.models import ModelVersion, TrainingRun
from training.views import loss_chart

# The smallest policy: one narrow layer, one DPO step after one SFT epoch.
TINY_POLICY = {"vocab_size": 300, "d_model": 16, "n_layers": 1, "n_heads": 2, "d_ff": 32,
               "sft_epochs": 1, "max_steps": 1, "batch_size": 8, "max_prompt_tokens": 32,
               "max_response_tokens": 16, "warmup_steps": 0, "device": "cpu"}
# A quarter of the 24 labelled items held out, three of their prompts generated for.
POLICY_SETTINGS = {"eval_fraction": 0.25, "comparison_prompts": 3}


def client_of(user, **kwargs) -> Client:
    client = Client(**kwargs)
    if user is not None:
        client.force_login(user)
    return client


def use_policy_settings(project) -> None:
    project.settings = {**project.settings, "policy": dict(POLICY_SETTINGS)}
    project.save(update_fields=["settings"])


def train_reward_model(project, capture) -> None:
    with capture(execute=True):
        run = runs.request_training(project=project)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.traceback


def train_policy(project, capture, **params) -> ModelVersion:
    """One policy run, executed through the queue as a worker would; its version."""
    with capture(execute=True):
        run = policy_runs.request_policy_training(project=project,
                                                  params={**TINY_POLICY, **params})
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.traceback
    return run.model_version


def versions_row(html: str, name: str) -> str:
    """The versions table's row of one version."""
    table = html[html.index('<table id="versions"'):]
    rows = re.findall(r"<tr[^>]*>\s*<td>(.*?)</tr>", table, re.S)
    return next(row for row in rows if row.startswith(f"{name} "))


def shown_number(value) -> str:
    return floatformat(value, 3)


@pytest.mark.parametrize("who,expected", [
    ("outsider", 404), ("annotator", 404), ("reviewer", 200), ("manager", 200), ("staff", 200),
])
def test_policies_page_is_for_reviewers_and_managers(roles, who, expected):
    project, users = roles
    assert client_of(users[who]).get(f"/projects/{project.pk}/policies/").status_code == expected


def test_pages_need_a_login(roles):
    project, _ = roles
    for url in (f"/projects/{project.pk}/policies/", f"/projects/{project.pk}/policies/1/compare/"):
        res = Client().get(url)
        assert res.status_code == 302 and "/login/" in res["Location"], url


def test_an_empty_project_says_there_is_nothing_yet(roles):
    project, users = roles
    html = client_of(users["manager"]).get(f"/projects/{project.pk}/policies/").content.decode()
    assert "No active policy yet." in html and "No policy run yet." in html
    assert "No policy yet." in html
    assert re.search(r'id="try-button"\s+disabled', html)
    assert re.search(r'id="generate-candidates"\s+disabled', html)


def test_compare_is_404_for_a_version_the_project_does_not_have(roles):
    project, users = roles
    reviewer = client_of(users["reviewer"])
    for version in (1, 10**12, 10**25):
        url = f"/projects/{project.pk}/policies/{version}/compare/"
        assert reviewer.get(url).status_code == 404, url


def test_policies_page_shows_the_versions_the_active_one_and_the_latest_run(
        labelled, django_capture_on_commit_callbacks):
    project, users = labelled
    use_policy_settings(project)
    capture = django_capture_on_commit_callbacks
    train_reward_model(project, capture)
    first = train_policy(project, capture)
    second = train_policy(project, capture, force=True)
    first.refresh_from_db()
    assert second.is_active and not first.is_active

    res = client_of(users["reviewer"]).get(f"/projects/{project.pk}/policies/")
    html = res.content.decode()
    assert html.count('<span class="badge">active</span>') == 1
    for version in (first, second):
        row = versions_row(html, version.name)
        m = version.metrics
        for key in ("rewards/accuracies", "rewards/margins", "rewards/chosen",
                    "rewards/rejected", "kl", "win_rate"):
            assert f">{shown_number(m[key])}<" in row, (version.name, key)
        assert f"{m['n_train']} / {m['n_eval']}" in row
        assert escape(version.training_run.outcome) in row
        assert f'href="/projects/{project.pk}/policies/{version.version}/compare/"' in row
        assert ('<span class="badge">active</span>' in row) == version.is_active
    # The active policy's held-out figures on top, with the judge of its win rate.
    top = html[html.index('id="active-policy"'):html.index('id="latest-run"')]
    assert second.name in top and f"reward model {second.metrics['reward_model']}" in top
    for key in ("rewards/accuracies", "rewards/margins", "kl", "win_rate"):
        assert f"<dd>{shown_number(second.metrics[key])}</dd>" in top, key
    # The latest run is the second policy run (not the reward model's), with its curve.
    run = second.training_run
    latest = html[html.index('id="latest-run"'):]
    assert f"Run <strong>{run.pk}</strong>" in latest and escape(run.outcome) in latest
    chart = loss_chart(run.loss_curve)
    assert chart is not None and f'points="{chart["points"]}"' in latest
    # Reviewers look; only managers train or generate.
    assert 'id="train-policy"' not in html and 'id="generate-candidates"' not in html
    assert f'data-url="/api/v1/projects/{project.pk}/policies/generate/"' in html
    manager_html = client_of(users["manager"]).get(
        f"/projects/{project.pk}/policies/").content.decode()
    assert 'id="train-policy"' in manager_html and 'name="force"' in manager_html
    assert "csrfmiddlewaretoken" in manager_html

    # The compare page of each version: the comparison the service computes, side by side.
    for version in (first, second):
        page = client_of(users["reviewer"]).get(
            f"/projects/{project.pk}/policies/{version.version}/compare/")
        assert page.status_code == 200
        body = page.content.decode()
        result = generation.comparison(version=version)
        assert result["n"] > 0 and result["reward_model"] == "v1"
        wins = sum(row["winner"] == "policy" for row in result["rows"])
        assert (f"Policy wins {wins} of {result['n']} held-out prompts by reward model v1"
                in body)
        assert f"win rate {shown_number(result['win_rate'])}" in body
        assert body.count('class="card comparison-row"') == result["n"]
        for row in result["rows"]:
            assertInHTML(f'<div class="prompt"><p class="text">{escape(row["prompt"])}</p></div>',
                         body)
            for side, title in (("reference", "Reference"), ("policy", version.name)):
                classes = f"generation {side}" + (" winner" if row["winner"] == side else "")
                assertInHTML(
                    f'<div class="{classes}"><h3>{title} <span class="score">'
                    f'{shown_number(row[side + "_score"])}</span></h3>'
                    f'<p class="text">{escape(row[side])}</p></div>', body)


def test_train_form_queues_a_policy_run_for_managers_only(roles):
    project, users = roles
    url = f"/projects/{project.pk}/policies/train/"
    assert client_of(users["reviewer"]).post(url).status_code == 404
    assert client_of(users["manager"]).get(url).status_code == 405
    assert not TrainingRun.objects.exists()
    res = client_of(users["manager"]).post(url, {"force": "on"})
    assert res.status_code == 302 and res["Location"] == f"/projects/{project.pk}/policies/"
    run = TrainingRun.objects.get()
    assert run.kind == TrainingRun.Kind.POLICY and run.params == {"force": True}
    assert run.requested_by == users["manager"]
    # A second request while that one waits: the service's refusal, shown as a message.
    with pytest.raises(ApplicationError) as refused:
        policy_runs.request_policy_training(project=project)
    again = client_of(users["manager"]).post(url, follow=True)
    assert f'<li class="error">{escape(refused.value.detail)}</li>' in again.content.decode()
    assert TrainingRun.objects.count() == 1


def test_train_form_without_force_asks_for_the_project_settings(roles):
    project, users = roles
    client_of(users["manager"]).post(f"/projects/{project.pk}/policies/train/")
    assert TrainingRun.objects.get().params == {}


def test_forms_need_the_csrf_token(roles):
    project, users = roles
    client = client_of(users["manager"], enforce_csrf_checks=True)
    for tail in ("train/", "candidates/"):
        assert client.post(f"/projects/{project.pk}/policies/{tail}").status_code == 403, tail
    assert not TrainingRun.objects.exists()


def test_candidates_form_needs_an_active_policy(roles):
    project, users = roles
    url = f"/projects/{project.pk}/policies/candidates/"
    assert client_of(users["reviewer"]).post(url).status_code == 404
    with pytest.raises(ApplicationError) as refused:
        candidates.request_candidates(project=project)
    res = client_of(users["manager"]).post(url, follow=True)
    assert f'<li class="error">{escape(refused.value.detail)}</li>' in res.content.decode()


def test_without_a_reward_model_compare_scores_nothing_and_candidates_can_be_asked_for(
        labelled, django_capture_on_commit_callbacks):
    """One policy, no reward model: the compare page says why nothing is scored, and the
    candidates form counts the waiting prompts and queues them. (One test, one training.)"""
    project, users = labelled
    use_policy_settings(project)
    version = train_policy(project, django_capture_on_commit_callbacks)
    assert version.metrics["win_rate"] is None
    manager = client_of(users["manager"])
    html = manager.get(f"/projects/{project.pk}/policies/").content.decode()
    assert "No win rate: no reward model was active" in html
    assert ">–<" in versions_row(html, version.name)  # the win-rate cell
    body = client_of(users["reviewer"]).get(
        f"/projects/{project.pk}/policies/{version.version}/compare/").content.decode()
    assert "No reward model is active" in body and "Policy wins" not in body
    rows = generation.comparison(version=version)["rows"]
    assert rows and body.count('class="card comparison-row"') == len(rows)
    assert "winner" not in re.sub(r"<style>.*?</style>", "", body, flags=re.S)
    for row in rows:
        assertInHTML(f'<div class="generation policy"><h3>{version.name} <span class="score">'
                     f'</span></h3><p class="text">{escape(row["policy"])}</p></div>', body)

    for n, prompt in enumerate(("How do I fold a paper crane?", "How do I boil an egg?")):
        PendingPrompt.objects.create(project=project, prompt=prompt, content_hash=f"p-{n}")
    html = manager.get(f"/projects/{project.pk}/policies/").content.decode()
    assert "2 prompt-only items wait for responses." in html
    assert "setting <code>policy.propose</code> is off" in html
    assert not re.search(r'id="generate-candidates"\s+disabled', html)
    with django_capture_on_commit_callbacks(execute=True):
        res = manager.post(f"/projects/{project.pk}/policies/candidates/", follow=True)
    assert "2 prompts queued for candidate generation." in res.content.decode()
    # The queued task worked through both (each proposed for, or failed, once).
    assert [p.attempts for p in PendingPrompt.objects.filter(project=project)] == [1, 1]

    project.settings = {**project.settings, "policy": {**POLICY_SETTINGS, "propose": True}}
    project.save(update_fields=["settings"])
    html = manager.get(f"/projects/{project.pk}/policies/").content.decode()
    assert "setting <code>policy.propose</code> is on" in html


def test_project_page_links_to_policies_for_reviewers_not_annotators(roles):
    project, users = roles
    link = f'href="/projects/{project.pk}/policies/"'
    assert link in client_of(users["reviewer"]).get(f"/projects/{project.pk}/").content.decode()
    assert link not in client_of(users["annotator"]).get(
        f"/projects/{project.pk}/").content.decode()
