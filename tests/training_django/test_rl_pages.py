"""RL policies on the policies and compare pages: the algorithm, KL, the over-optimisation
chart (proxy and held-out reward-model scores against KL, the best checkpoint marked) and
the reward-gaming sentence; the chart's geometry against hand-worked values; the page in
Chromium on a desktop and a phone."""

from __future__ import annotations

import re

import pytest
from django.template.defaultfilters import floatformat
from django.test import Client

from training import generation, overoptimisation, policy_runs, runs
from training.models import ModelVersion

from .conftest import FAST, FAST_POLICY, TOPICS, add_pairs
from .conftest import log_in as log_in_page
from .test_rl_runs import FAST_RL

# Proxy rises throughout; held-out rises to step 20, then falls: gaming after step 20.
GAMED = [{"step": 0, "kl": 0.0, "proxy": 0.0, "heldout": 0.0},
         {"step": 10, "kl": 1.0, "proxy": 1.0, "heldout": 0.5},
         {"step": 20, "kl": 2.0, "proxy": 2.0, "heldout": 1.0},
         {"step": 30, "kl": 4.0, "proxy": 3.0, "heldout": 0.25}]


# --- the chart, by hand -------------------------------------------------------------------


def test_gaming_starts_after_the_last_checkpoint_before_the_scores_part():
    assert overoptimisation.gaming_step(GAMED) == 20
    both_rise = [dict(p, heldout=p["proxy"] / 2) for p in GAMED]
    assert overoptimisation.gaming_step(both_rise) is None
    # Both falling is not gaming; out-of-order and incomplete points are sorted and dropped.
    assert overoptimisation.gaming_step([GAMED[1], {"step": 15, "kl": 1.5, "proxy": 0.5,
                                                    "heldout": 0.2}]) is None
    assert overoptimisation.gaming_step([GAMED[3], GAMED[2], {"step": 5, "kl": None}]) == 20
    assert overoptimisation.gaming_step([]) is None and overoptimisation.gaming_step(None) is None


def test_chart_coordinates_by_hand():
    c = overoptimisation.chart(GAMED, best_step=20)
    # x: KL 0..4 over 64..540 (476 px); y: scores 0..3 over 212..16 (196 px), top highest.
    assert c["proxy"]["points"] == "64.0,212.0 183.0,146.7 302.0,81.3 540.0,16.0"
    assert c["heldout"]["points"] == "64.0,212.0 183.0,179.3 302.0,146.7 540.0,195.7"
    assert c["best"] == {"step": 20, "x": 302.0, "proxy_y": 81.3, "heldout_y": 146.7,
                         "kl": 2.0, "heldout": 1.0}
    assert [t["label"] for t in c["x_ticks"]] == ["0", "2", "4"]
    assert [t["label"] for t in c["y_ticks"]] == ["0", "1.5", "3"]
    assert c["gaming_step"] == 20 and c["n"] == 4
    assert overoptimisation.chart(GAMED[:1]) is None
    assert overoptimisation.chart(GAMED, best_step=99)["best"] is None


# --- the pages ------------------------------------------------------------------------------


@pytest.fixture
def rl_policies(roles, django_capture_on_commit_callbacks):
    """A reward model, a DPO policy v1 and an RLOO policy v2 (forced active)."""
    generation.clear_policy_cache()
    project, users = roles
    project.settings = {"reward_model": dict(FAST),
                        "policy": {**FAST_POLICY, "rl": dict(FAST_RL)}}
    project.save(update_fields=["settings"])
    add_pairs(project, TOPICS[:24])
    capture = django_capture_on_commit_callbacks
    with capture(execute=True):
        runs.request_training(project=project)
    versions = []
    for params in ({}, {"algorithm": "rloo", "force": True}):
        with capture(execute=True):
            run = policy_runs.request_policy_training(project=project, params=params)
        run.refresh_from_db()
        assert run.status == "succeeded", run.traceback
        versions.append(run.model_version)
    yield project, users, versions
    generation.clear_policy_cache()


def with_checkpoints(version: ModelVersion, checkpoints, best_step: int) -> None:
    """Give a trained version a known curve (what a longer run records)."""
    metrics = dict(version.metrics)
    metrics["overoptimisation"] = {**metrics["overoptimisation"], "checkpoints": checkpoints,
                                   "best_step": best_step}
    version.metrics = metrics
    version.save(update_fields=["metrics"])


db = pytest.mark.django_db(transaction=True)


@db
def test_pages_show_rl_policies_with_their_chart(rl_policies):
    project, users, (dpo, rl) = rl_policies
    client = Client()
    client.force_login(users["reviewer"])
    html = client.get(f"/projects/{project.pk}/policies/").content.decode()
    assert re.search(r'<td class="algorithm">RLOO</td>', html)
    assert re.search(r'<td class="algorithm">DPO</td>', html)
    top = html[html.index('id="active-policy"'):html.index('id="rl-policy"')]
    assert "RLOO" in top and "Held-out reward" in top and "reward model v1" in top
    assert f"<dd>{floatformat(rl.metrics['kl'], 3)}</dd>" in top
    chart = overoptimisation.chart(rl.metrics["overoptimisation"]["checkpoints"],
                                   rl.metrics["overoptimisation"]["best_step"])
    section = html[html.index('id="rl-policy"'):html.index('id="latest-run"')]
    assert f'id="proxy-curve" points="{chart["proxy"]["points"]}"' in section
    assert f'id="heldout-rm-curve" points="{chart["heldout"]["points"]}"' in section
    assert 'id="best-checkpoint"' in section and "KL to the reference" in section
    assert "reward-model score" in section
    assert section.count('class="proxy-dot"') == len(rl.metrics["overoptimisation"]["checkpoints"])

    with_checkpoints(rl, GAMED, best_step=20)
    for url in (f"/projects/{project.pk}/policies/", f"/projects/{project.pk}/policies/2/compare/"):
        page = client.get(url).content.decode()
        assert "The policy started gaming the reward model after step 20" in page, url
        assert 'cx="302.0" cy="146.7" r="7"' in page, url  # the best checkpoint's ring
    compare = client.get(f"/projects/{project.pk}/policies/1/compare/").content.decode()
    assert 'id="rl-policy"' not in compare  # a DPO policy has no RL curve
    # A manager picks the algorithm on the page.
    manager = Client()
    manager.force_login(users["manager"])
    answer = manager.post(f"/projects/{project.pk}/policies/train/", {"algorithm": "ppo"},
                          follow=True)
    run = project.training_runs.filter(kind="policy").first()
    assert run.params == {"algorithm": "ppo"}
    assert f"Policy run {run.pk} (PPO) queued." in answer.content.decode()


@pytest.mark.browser
@pytest.mark.slow
@db
def test_the_rl_chart_in_chromium_on_desktop_and_phone(rl_policies, live_server, new_page, shot):
    from django.db import connections

    project, users, (_, rl) = rl_policies
    with_checkpoints(rl, GAMED, best_step=20)
    for viewport, mobile in (({"width": 1366, "height": 900}, False),
                             ({"width": 390, "height": 844}, True)):
        page = new_page(viewport, mobile=mobile)
        log_in_page(page, live_server, users["manager"].username)
        for url, name in ((f"/projects/{project.pk}/policies/", "policies"),
                          (f"/projects/{project.pk}/policies/2/compare/", "compare")):
            page.goto(f"{live_server.url}{url}")
            chart = page.locator("#overoptimisation svg")
            chart.scroll_into_view_if_needed()
            box = chart.bounding_box()
            assert box["width"] > 300 and box["x"] >= 0
            assert box["x"] + box["width"] <= viewport["width"] + 1, name
            assert "after step 20" in page.inner_text("#gaming-note")
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= viewport["width"], (name, wide)
            if name == "policies":
                assert page.locator("#train-algorithm option").all_inner_texts() == [
                    "DPO", "RLOO", "PPO"]
            shot(page, f"{name}-{viewport['width']}")
    connections.close_all()


@db
def test_the_train_form_refuses_rl_without_a_reward_model(roles):
    project, users = roles
    manager = Client()
    manager.force_login(users["manager"])
    url = f"/projects/{project.pk}/policies/train/"
    answer = manager.post(url, {"algorithm": "ppo"}, follow=True)
    assert "has none: train one first" in answer.content.decode()
    assert not project.training_runs.exists()
    # An unknown algorithm from a hand-made form falls back to DPO, which says what it lacks.
    manager.post(url, {"algorithm": "a2c"})
    [run] = project.training_runs.all()
    assert run.params == {} and run.status == "failed" and "a policy needs at least 4" in run.error
