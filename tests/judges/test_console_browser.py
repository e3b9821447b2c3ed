"""The judges console in Chromium, as a manager uses it: from the project page to the
constitution editor, a principle missing its question named next to it, a row added from
the keyboard, two principles published; an openai judge added (pointing at a local
chat-completions server), a run estimated, then started, followed to its end and listed
with the judge's agreement with people; a critique-and-revise run estimated. Screenshots of the pages at 1366x900 and 390x844,
and no sideways scroll on the phone."""

from __future__ import annotations

import pytest

from annotation import services as annotation_services
from judges.models import Constitution, Judge, JudgeRun
from tests.conftest import MOBILE
from tests.exports.test_export_api import make_item
from tests.judges_engine.test_http_backend import ok, serve

from .conftest import human

DESKTOP = {"width": 1366, "height": 900}


def kind_one_wins(request: dict) -> dict:
    """The test server's answer: whichever response is the kind one, as shown (the judge
    may show the two in either order)."""
    text = request["body"]["messages"][-1]["content"]
    first = "A" if text.index("A kind answer") < text.index("A curt answer") else "B"
    return ok(f"The kind one is better. [[{first}]]")


def submit(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_manager_writes_a_constitution_and_runs_a_judge(live_server, new_page, log_in, shot,
                                                         make_user):
    manager, annotator = make_user("lead"), make_user("ann")
    project = annotation_services.create_project(actor=manager, name="Kind answers",
                                                 responses_per_item=2, overlap=1)
    items = [make_item(project, [f"A kind answer {n}", f"A curt answer {n}"],
                       prompt=f"Question {n}") for n in range(4)]
    for item, ids in items[:3]:
        human(item, annotator, 0, ids)  # people prefer the first response
    page = new_page(DESKTOP)
    log_in(page, "lead")
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    submit(page, "text=Constitution & AI judges")
    assert page.url == f"{live_server.url}/projects/{project.pk}/constitution/"
    assert page.locator(".principle-row").count() == 2

    # The second principle without its question: named next to it, the typing kept.
    page.fill("#p-0-name", "kind")
    page.fill("#p-0-question", "Which of these responses is kinder?")
    page.fill("#p-0-critique", "Point out anything unkind.")
    page.fill("#p-0-revision", "Rewrite it kindly.")
    page.fill("#p-1-name", "honest")
    new_page.allow_http(400, f"/projects/{project.pk}/constitution/")
    submit(page, "#publish")
    assert page.inner_text("#principle-1 .field-problem") == "This is required."
    assert page.input_value("#p-1-name") == "honest"
    assert page.input_value("#p-0-revision") == "Rewrite it kindly."
    assert not Constitution.objects.exists()
    shot(page, "constitution-error")

    # A row added from the keyboard, left blank (skipped); then published.
    page.fill("#p-1-question", "Which of these responses is more honest?")
    page.focus("#add-row")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator(".principle-row").count() == 3
    assert page.input_value("#p-1-question") == "Which of these responses is more honest?"
    submit(page, "#publish")
    assert "Version 1 published with 2 principles." in page.inner_text(".messages")
    constitution = Constitution.objects.get(project=project)
    assert [p["name"] for p in constitution.principles] == ["kind", "honest"]
    assert "v1" in page.inner_text("#versions") and "lead" in page.inner_text("#versions")
    assert page.input_value("#p-0-critique") == "Point out anything unkind."
    shot(page, "constitution-editor")

    with serve(default=kind_one_wins) as (base_url, _endpoint):
        # A judge on the local server.
        submit(page, ".tabs a:text('AI judges')")
        assert "No judges yet" in page.inner_text("#judges-page")
        page.fill("#judge_name", "local judge")
        page.select_option("#judge_backend", "openai")
        page.fill("#judge_model", "judge-7b")
        page.fill("#judge_base_url", base_url)
        submit(page, "#add-judge")
        assert "Judge “local judge” added." in page.inner_text(".messages")
        judge = Judge.objects.get(project=project)
        card = page.locator(f"#judge-{judge.pk}")
        assert "openai" in card.inner_text() and base_url in card.inner_text()

        # The estimate first, nothing stored; then the run.
        page.select_option(f"#run{judge.pk}_items", "all")
        with page.expect_navigation():
            page.locator(f"#run-form-{judge.pk} button.estimate").click()
        panel = page.locator(f"#estimate-{judge.pk}")
        chars = sum(len(f"Question {n}") + len(f"A kind answer {n}") + len(f"A curt answer {n}")
                    for n in range(4))
        assert panel.locator("[data-key=items]").inner_text() == "4"
        assert panel.locator("[data-key=comparisons]").inner_text() == "4"
        assert panel.locator("[data-key=prompt_chars]").inner_text() == str(chars)
        assert panel.locator("[data-key=already_judged]").inner_text() == "0"
        assert not JudgeRun.objects.exists()
        panel.scroll_into_view_if_needed()
        shot(page, "judges-estimate")
        with page.expect_navigation():
            panel.locator("button.start-run").click()
        run = JudgeRun.objects.get()
        assert page.url == f"{live_server.url}/projects/{project.pk}/judge-runs/{run.pk}/"
        # The run went through while the request committed (eager tasks in tests); a page
        # opened before would have followed it through the API.
        page.wait_for_function(
            "() => document.querySelector('#run-status').textContent === 'succeeded'")
        assert page.inner_text("#run-n_judged") == "4"
        assert page.locator("#cancel-run").count() == 0
        shot(page, "run")

    submit(page, "text=Back to the judges")
    card = page.locator(f"#judge-{judge.pk}")
    assert f"Run {run.pk}" in card.locator("table.runs").inner_text()
    assert "succeeded" in card.locator("h2").inner_text()
    assert "100%" in page.inner_text(f"#agreement-{judge.pk}")
    assert "on 3 items" in page.inner_text(f"#agreement-{judge.pk}")
    shot(page, "judges")

    # A critique-and-revise run, estimated only: two calls per response and round.
    revise = page.locator(f"#revise-form-{judge.pk}")
    revise.locator("input[name=rounds]").fill("2")
    with page.expect_navigation():
        revise.locator("button.estimate").click()
    panel = page.locator(f"#estimate-{judge.pk}[data-kind=revise]")
    assert panel.locator("[data-key=responses]").inner_text() == "8"
    assert panel.locator("[data-key=calls]").inner_text() == str(2 * 2 * 8)
    assert JudgeRun.objects.count() == 1
    panel.scroll_into_view_if_needed()
    shot(page, "revise-estimate")

    # A queued run's page follows it through the API, then shows its outcome.
    queued = JudgeRun.objects.create(judge=judge, constitution_version=1, n_items=4,
                                     item_ids=[item.pk for item, _ids in items],
                                     estimate={"items": 4, "comparisons": 4})
    page.goto(f"{live_server.url}/projects/{project.pk}/judge-runs/{queued.pk}/")
    assert page.locator("#cancel-run").is_visible()
    JudgeRun.objects.filter(pk=queued.pk).update(status="running", progress=0.5, n_judged=2)
    page.wait_for_function("() => document.querySelector('#run-percent').textContent === '50%'")
    assert page.inner_text("#run-status") == "running" and page.inner_text("#run-n_judged") == "2"
    JudgeRun.objects.filter(pk=queued.pk).update(status="succeeded", progress=1.0, n_judged=4)
    page.wait_for_selector("#cancel-run", state="detached")
    assert page.inner_text("#run-status") == "succeeded"

    # Every page on a phone: nothing wider than the screen.
    phone = new_page(MOBILE, mobile=True)
    log_in(phone, "lead")
    for step, path in (("constitution", "constitution/"), ("judges", "judges/"),
                       ("run", f"judge-runs/{run.pk}/"), ("old-version", "constitution/?version=1")):
        phone.goto(f"{live_server.url}/projects/{project.pk}/{path}")
        assert phone.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"], step
        # Nor a table that scrolls inside its box.
        assert phone.evaluate("[...document.querySelectorAll('.scroll')]"
                              ".every(e => e.scrollWidth <= e.clientWidth)"), step
        shot(phone, f"mobile-{step}")
