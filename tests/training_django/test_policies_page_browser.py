"""The policies and compare pages in Chromium, with real trained policies: a reviewer
finds them from the project page, samples the active policy (fetch + CSRF), reads the
side-by-side comparison; a manager follows a run live and trains from the page."""

from __future__ import annotations

import pytest

from tests.conftest import ARTIFACTS
from training import generation, policy_runs, runs
from training.models import ModelVersion, TrainingRun

from .conftest import log_in
from .test_policy_pages import TINY_POLICY, train_policy, train_reward_model, use_policy_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

POLICIES_SHOT, COMPARE_SHOT = ARTIFACTS / "policies.png", ARTIFACTS / "policy-compare.png"


def as_parsed(text: str) -> str:
    """Text as an HTML page holds it once parsed: line breaks normalised to LF, NUL
    characters dropped (the HTML standard's tokenizer and tree builder)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def text_of(page, selector: str) -> str:
    """An element's text exactly as the page holds it (innerText would fold whitespace)."""
    return page.eval_on_selector(selector, "element => element.textContent")


def test_reviewer_follows_policies_to_the_comparison(labelled, live_server, page,
                                                      django_capture_on_commit_callbacks):
    project, users = labelled
    use_policy_settings(project)
    capture = django_capture_on_commit_callbacks
    train_reward_model(project, capture)
    train_policy(project, capture)
    active = train_policy(project, capture, force=True)

    log_in(page, live_server, users["reviewer"].username)
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.get_by_role("link", name="Policies", exact=True).click()
    page.wait_for_selector("#versions")
    assert page.locator("#versions tbody tr").count() == 2
    assert page.locator("#versions .badge").count() == 1
    assert page.locator("#versions tr.active td").first.inner_text().startswith(active.name)
    assert page.locator("#loss-curve").count() == 1
    assert page.locator("#train-policy").count() == 0
    assert page.locator("#generate-candidates").count() == 0

    prompt = "How do I fold a paper crane?"
    page.fill("#try-prompt", prompt)
    page.click("#try-button")
    page.wait_for_selector("#try-output:not([hidden])")
    expected = generation.generate(project=project, prompt=prompt, max_new_tokens=64,
                                   temperature=1.0, top_p=1.0, seed=0)
    assert page.inner_text("#try-caption") == f"Sampled from {expected['policy_version']}:"
    assert text_of(page, "#try-result") == expected["text"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=POLICIES_SHOT, full_page=True)

    with page.expect_navigation():
        page.locator("#versions tr.active").get_by_role("link", name="Compare").click()
    result = generation.comparison(version=active)
    wins = sum(row["winner"] == "policy" for row in result["rows"])
    assert (f"Policy wins {wins} of {result['n']} held-out prompts by reward model v1"
            in page.inner_text("#win-rate"))
    rows = page.locator(".comparison-row")
    assert rows.count() == result["n"] > 0
    for n, row in enumerate(result["rows"]):
        shown = rows.nth(n)
        for side in ("reference", "policy"):
            text = shown.locator(f".{side} .text").evaluate("e => e.textContent")
            assert text == as_parsed(row[side]), (n, side)
        assert shown.locator(".winner").count() == (row["winner"] in ("policy", "reference"))
    # Side by side: the policy's answer starts level with the reference's, to its right.
    first = rows.nth(0)
    left = first.locator(".generation.reference").bounding_box()
    right = first.locator(".generation.policy").bounding_box()
    assert right["x"] >= left["x"] + left["width"] and abs(right["y"] - left["y"]) < 1
    page.screenshot(path=COMPARE_SHOT, full_page=True)
    # On a phone the two answers stack, the policy's below the reference's.
    page.set_viewport_size({"width": 390, "height": 844})
    left = first.locator(".generation.reference").bounding_box()
    right = first.locator(".generation.policy").bounding_box()
    assert right["y"] >= left["y"] + left["height"] and right["width"] <= 390


def test_manager_follows_a_run_and_trains_from_the_page(labelled, live_server, page, shot):
    project, users = labelled
    use_policy_settings(project)
    # A run queued but not sent: the page follows it while this test executes it.
    queued = policy_runs.request_policy_training(project=project, actor=users["manager"],
                                                 params=TINY_POLICY, dispatch=False)
    log_in(page, live_server, users["manager"].username)
    page.goto(f"{live_server.url}/projects/{project.pk}/policies/")
    assert page.inner_text("#run-status") == "queued"
    assert page.locator("#train-policy").is_disabled()
    assert page.locator("#versions").count() == 0
    runs.execute_run(run_id=queued.pk)
    page.wait_for_selector("#versions")  # the page reloaded itself once the run finished
    assert page.inner_text("#run-status") == "succeeded"
    assert page.locator("#versions .badge").count() == 1

    assert page.locator("#generate-candidates").is_disabled()  # no prompt waits
    assert "0 prompt-only items wait for responses." in page.inner_text("#pending-prompts")
    shot(page, "manager")
    page.check("#policy-train-form input[name=force]")
    with page.expect_navigation():
        page.click("#train-policy")
    run = TrainingRun.objects.filter(kind=TrainingRun.Kind.POLICY).order_by("-id").first()
    assert run.pk != queued.pk and run.requested_by == users["manager"]
    assert run.params == {"force": True}
    assert f"Policy run {run.pk} queued." in page.inner_text(".messages")
    # The run executed on commit (eager tasks): the page it came back to lists its version.
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.traceback
    assert ModelVersion.objects.filter(kind=ModelVersion.Kind.POLICY).count() == 2
    assert page.locator("#versions tbody tr").count() == 2
