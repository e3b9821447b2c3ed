""""Watch it learn" keeps up with the annotator: the next task shows at once while the
reward model's answer on the last label is pending, the panel stays titled with the item
it is about and names responses by excerpt, once warm the answer comes within a second of
the submit, and a reward model activated meanwhile is announced on the page."""

from __future__ import annotations

import pytest

from tests.training_django.conftest import learning_project, prompt_for
from tests.training_django.test_feedback_fast import second_version
from training import scoring

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FRESH = ["wrap a birthday present", "water an orchid", "level a wobbly table",
         "pack for a weekend trip", "boil an egg", "polish leather shoes", "label a moving box",
         "oil a squeaky hinge"]
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
WARM_BOUND_MS = 1000


def excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 40 else flat[:39].rstrip(" ,;:") + "…"


@pytest.fixture
def project(make_user, django_capture_on_commit_callbacks):
    project, _ = learning_project(make_user=make_user, name="Keeps up", fresh=FRESH,
                                  capture_on_commit=django_capture_on_commit_callbacks)
    # A cold web process: the page's first call has to load the model.
    scoring.clear_scorer_cache()
    return project


def open_ranking(new_page, log_in, live_server, project, viewport, *, mobile=False):
    page = new_page(viewport, mobile=mobile)
    log_in(page, "learner")
    page.goto(f"{live_server.url}/projects/{project.pk}/annotate/")
    page.wait_for_selector("#annotator[data-state=task]")
    return page


def task_on_page(page) -> dict:
    """The item shown, its prompt and its responses' texts by card number."""
    shown = page.evaluate("""() => ({
        item: document.getElementById('annotator').dataset.item,
        conversation: document.querySelector('#conversation').innerText,
        texts: Object.fromEntries([...document.querySelectorAll('.response-card')].map(
            (c) => [c.dataset.num, c.querySelector('.response-body').innerText.trim()])),
    })""")
    shown["prompt"] = next(prompt_for(t) for t in FRESH if prompt_for(t) in shown["conversation"])
    return shown


def rank_and_submit(page) -> None:
    page.keyboard.press("1")
    page.keyboard.press("2")
    page.evaluate("() => { window.submittedAt = performance.now(); }")
    page.keyboard.press("Enter")


def wait_for_answer(page, item: str, timeout: float = 60_000) -> None:
    page.wait_for_selector(f"#feedback[data-item='{item}'][data-state=answered]",
                           timeout=timeout)


def test_the_panel_keeps_up_with_the_annotator(project, live_server, new_page, log_in, shot):
    page = open_ranking(new_page, log_in, live_server, project, DESKTOP)

    # 1. The reward model's answer is held back: the next task shows all the same, and the
    # panel stays with the item just labelled.
    held = []

    def hold(route):
        held.append(route)

    page.route("**/feedback/", hold)
    first = task_on_page(page)
    rank_and_submit(page)
    page.wait_for_function(
        f"() => document.getElementById('annotator').dataset.item !== '{first['item']}'"
        " && document.getElementById('annotator').dataset.state === 'task'")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the page never asked for feedback"
    panel = page.locator("#feedback")
    assert panel.get_attribute("data-state") == "pending"
    assert panel.get_attribute("data-item") == first["item"]
    assert "Asking the reward model" in panel.inner_text()
    title = panel.locator("h2 q.excerpt")
    assert title.inner_text() == excerpt(first["prompt"])
    assert title.get_attribute("title") == first["prompt"]
    line = panel.locator(".ranking-line").inner_text()
    assert "#" not in line
    quoted = panel.locator(".ranking-line q.excerpt")
    assert [quoted.nth(i).get_attribute("title") for i in range(2)] == \
        [first["texts"]["1"], first["texts"]["2"]]
    assert [quoted.nth(i).inner_text() for i in range(2)] == \
        [excerpt(first["texts"]["1"]), excerpt(first["texts"]["2"])]
    shot(page, "pending-while-next-task-shows")
    held[0].continue_()
    page.unroute("**/feedback/")
    wait_for_answer(page, first["item"])
    rows = panel.locator(".score-row")
    assert [rows.nth(i).locator(".score-excerpt").inner_text() for i in range(2)] == \
        [excerpt(first["texts"]["1"]), excerpt(first["texts"]["2"])]
    assert rows.nth(0).locator(".score-label").get_attribute("title") == first["texts"]["1"]

    # 2. Warm: the answer is drawn within a second of the submit, measured in the page.
    for _ in range(2):
        shown = task_on_page(page)
        rank_and_submit(page)
        wait_for_answer(page, shown["item"], timeout=10_000)
        took = page.evaluate(
            "() => Number(document.getElementById('feedback').dataset.answeredAt)"
            " - window.submittedAt")
        assert 0 < took < WARM_BOUND_MS, f"feedback took {took:.0f} ms once warm"
    assert scoring.scorer_loads() == 1
    assert page.locator("#model-notice").is_hidden()
    shot(page, "feedback-with-excerpts")

    # 3. A new model goes live while the annotator works: the next answer says so.
    second_version(project, labels=31)
    shown = task_on_page(page)
    rank_and_submit(page)
    wait_for_answer(page, shown["item"])
    notice = page.locator("#model-notice")
    notice.wait_for(state="visible")
    assert "A new reward model v2 is live: trained on 31 labels" in notice.inner_text()
    assert "Reward model v2" in panel.inner_text()
    shot(page, "new-model-notice")
    notice.get_by_role("button", name="Dismiss").click()
    assert notice.is_hidden()


def test_the_panel_and_the_notice_on_a_phone(project, live_server, new_page, log_in, shot):
    page = open_ranking(new_page, log_in, live_server, project, PHONE, mobile=True)
    shown = task_on_page(page)
    rank_and_submit(page)
    wait_for_answer(page, shown["item"])
    page.locator("#feedback").scroll_into_view_if_needed()
    shot(page, "feedback-with-excerpts")
    second_version(project, labels=31)
    shown = task_on_page(page)
    rank_and_submit(page)
    wait_for_answer(page, shown["item"])
    page.locator("#model-notice").wait_for(state="visible")
    page.evaluate("() => window.scrollTo(0, 0)")
    shot(page, "new-model-notice")
