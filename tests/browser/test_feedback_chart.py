""""Watch it learn" with a real reward model: after a submit, the feedback panel charts each
response's score before and after one step on the annotator's label."""

from __future__ import annotations

import pytest

from tests.training_django.conftest import curt, helpful, learning_project

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

UNSEEN = "wrap a birthday present"


def test_feedback_panel_charts_the_scores_moving(
        live_server, new_page, log_in, shot, make_user, django_capture_on_commit_callbacks):
    project, annotator = learning_project(
        make_user=make_user, name="Watch it learn", fresh=[UNSEEN],
        capture_on_commit=django_capture_on_commit_callbacks)

    page = new_page()
    log_in(page, annotator.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/annotate/")
    page.wait_for_selector("#annotator[data-state=task]")
    texts = {page.inner_text(f".response-card[data-num='{n}'] .response-body"): n for n in (1, 2)}
    # Against what the model learned: the curt answer first.
    chosen, other = texts[curt(UNSEEN)], texts[helpful(UNSEEN)]
    page.keyboard.press(str(chosen))
    page.keyboard.press(str(other))
    page.keyboard.press("Enter")
    page.wait_for_selector("#annotator[data-state=empty]")
    page.wait_for_selector("#feedback .score-chart", timeout=60_000)
    shot(page, "feedback-chart")

    rows = page.locator("#feedback .score-row")
    assert rows.count() == 2
    top = rows.nth(0)
    assert "top" in top.get_attribute("class")
    assert top.inner_text().startswith(f"#{chosen}")
    assert "your best" in top.inner_text().lower()
    assert "Reward model v1" in page.inner_text("#feedback")
    labels = [rows.nth(i).get_attribute("aria-label") for i in range(2)]
    assert all("before" in label and "after" in label for label in labels)
