""""Watch it learn" with a real reward model: after a submit, the feedback panel charts each
response's score before and after one step on the annotator's label."""

from __future__ import annotations

import pytest

from annotation import services as project_services
from annotation.models import Item, Membership
from tests.training_django.conftest import FAST, TOPICS, add_pairs, curt, helpful, prompt_for
from training import runs as training_runs

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

UNSEEN = "wrap a birthday present"


def test_feedback_panel_charts_the_scores_moving(
        live_server, new_page, log_in, shot, make_user, django_capture_on_commit_callbacks):
    manager = make_user("coach")
    annotator = make_user("learner")
    project = project_services.create_project(actor=manager, name="Watch it learn",
                                              responses_per_item=2, overlap=1)
    project_services.set_membership(actor=manager, project=project, user=annotator,
                                    role=Membership.Role.ANNOTATOR)
    project.settings = {"reward_model": dict(FAST)}
    project.save(update_fields=["settings"])
    add_pairs(project, TOPICS[:24])
    with django_capture_on_commit_callbacks(execute=True):
        run = training_runs.request_training(project=project)
    run.refresh_from_db()
    assert run.status == "succeeded", run.traceback
    # One fresh item for the annotator; the labelled ones count as fully annotated.
    add_pairs(project, [UNSEEN], tag="fresh", source="ai")
    Item.objects.filter(project=project).exclude(prompt=prompt_for(UNSEEN)).update(
        annotations_done=project.overlap, queue_state=None)

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
