"""The reward-models page in Chromium for a manager: loss curves with their axes (training
and held-out loss), every run selectable, rolling back to v1, and the Train button disabled
while a run is queued. Screenshots at 1366×900 and 390×844."""

from __future__ import annotations

import pytest

from tests.conftest import ARTIFACTS
from training import runs, selectors
from training.models import ModelVersion

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WIDE = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def _train(project, **params):
    run = runs.request_training(project=project, params=params, dispatch=False)
    run = runs.execute_run(run_id=run.pk)
    assert run.status == "succeeded", run.traceback
    return run


def test_manager_reads_curves_picks_an_old_run_and_rolls_back(labelled, live_server, new_page,
                                                               log_in, shot):
    project, users = labelled
    first = _train(project)
    second = _train(project, mode="head")
    assert selectors.active_version(project_id=project.pk, kind="reward").version == 2, \
        second.outcome

    page = new_page(WIDE)
    log_in(page, users["manager"].username)
    page.goto(f"{live_server.url}/projects/{project.pk}/models/")
    card = page.locator("#latest-run")
    assert f"Run {second.pk}" in card.inner_text()
    # Both curves, on labelled axes.
    assert page.locator("#loss-curve").count() == 1
    assert page.locator("#heldout-curve").count() == 1
    assert page.text_content("#x-axis-label") == "training progress (% of steps)"
    assert page.text_content("#y-axis-label") == "loss"
    assert "held-out loss" in card.inner_text()
    # 6 held-out pairs: the interval and the warning say how little that is.
    accuracy = page.inner_text("#run-accuracy")
    assert "on 6 pairs (95% CI" in accuracy and "too few to compare reliably" in accuracy
    assert second.outcome in card.inner_text()
    assert "paired sign test" in page.inner_text("#run-decision") or \
        "too few pairs" in page.inner_text("#run-decision")
    # The form keeps the mode the last run asked for.
    assert page.locator("#train-mode").input_value() == "head"
    assert page.locator("#train-now").is_enabled()
    page.locator("#latest-run figure").scroll_into_view_if_needed()
    shot(page, "latest-run-wide")
    page.screenshot(path=str(ARTIFACTS / "models-console-wide-full.png"), full_page=True)

    # The older run, from the run list.
    with page.expect_navigation():
        page.click(f"#runs a[data-run='{first.pk}']")
    assert f"run={first.pk}" in page.url
    assert f"Run {first.pk}" in page.inner_text("#latest-run h2")
    assert first.outcome in page.inner_text("#latest-run")
    assert page.locator("#runs tr.chosen").inner_text().startswith(f"Run {first.pk}")

    # Roll back to v1: the page reloads with v1 active.
    with page.expect_navigation():
        page.click("#versions button.activate[data-name='v1']")
    row = page.locator("#versions tr[data-version='1']")
    assert "active" in row.inner_text()
    assert page.inner_text("#active-name") == "v1"
    assert ModelVersion.objects.get(project=project, version=1).is_active
    assert page.locator("#versions button.activate[data-name='v2']").inner_text() == "Activate v2"
    shot(page, "rolled-back-wide")

    # A queued run: the button is visibly disabled and says why.
    queued = runs.request_training(project=project, dispatch=False)
    page.goto(f"{live_server.url}/projects/{project.pk}/models/")
    assert page.locator("#train-now").is_disabled()
    assert "queued or running" in page.inner_text("#train-busy")
    assert f"Run {queued.pk}" in page.inner_text("#latest-run")
    shot(page, "queued-wide")

    # A version gone meanwhile: the error says so in words, not as a status code.
    new_page.allow_http(404, "/activate/")
    ModelVersion.objects.filter(project=project, version=2).delete()
    page.click("#versions button.activate[data-name='v2']")
    page.wait_for_selector("#activate-error:not([hidden])")
    assert page.inner_text("#activate-error") == (
        "v2 was not activated: This project has no reward model v2.")
    assert page.locator("#versions button.activate[data-name='v2']").is_enabled()

    phone = new_page(PHONE, mobile=True)
    log_in(phone, users["manager"].username)
    phone.goto(f"{live_server.url}/projects/{project.pk}/models/?run={first.pk}")
    assert phone.locator("#heldout-curve").count() == 1
    assert phone.locator("#train-now").is_disabled()
    phone.locator("#latest-run figure").scroll_into_view_if_needed()
    shot(phone, "phone")
    phone.screenshot(path=str(ARTIFACTS / "models-console-phone-full.png"), full_page=True)
