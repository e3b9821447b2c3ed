"""The models page in Chromium: versions, the score box (fetch + CSRF), training by hand."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ARTIFACTS
from training import runs
from training.models import TrainingRun

from .conftest import curt, helpful, log_in, prompt_for

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_reviewer_scores_their_own_responses(labelled, live_server, page,
                                            django_capture_on_commit_callbacks):
    project, users = labelled
    with django_capture_on_commit_callbacks(execute=True):
        run = runs.request_training(project=project)
    run.refresh_from_db()
    assert run.status == "succeeded", run.traceback
    log_in(page, live_server, users["reviewer"].username)
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.click("text=Reward models")
    assert page.locator("#versions").inner_text().count("active") == 1
    assert page.locator("#loss-curve").count() == 1
    assert page.locator("#train-now").count() == 0

    topic = "assemble a bookshelf"
    page.fill("#score-prompt", prompt_for(topic))
    page.fill("#score-responses", f"{curt(topic)}\n---\n{helpful(topic)}")
    page.click("#score-button")
    page.wait_for_selector("#score-results:not([hidden])")
    text = page.inner_text("#score-results")
    assert "Scored by v1" in text
    scores = [float(x) for x in re.findall(r"^(-?[0-9]+\.[0-9]{3})", text, re.M)]
    assert len(scores) == 2 and scores[1] > scores[0]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "reward-models-page.png"), full_page=True)


def test_manager_trains_from_the_page(labelled, live_server, page):
    project, users = labelled
    log_in(page, live_server, users["manager"].username)
    page.goto(f"{live_server.url}/projects/{project.pk}/models/")
    with page.expect_navigation():
        page.click("#train-now")
    run = TrainingRun.objects.get(project=project)
    assert run.requested_by == users["manager"]
    page.wait_for_selector("#versions")
    assert "v1" in page.inner_text("#versions")
