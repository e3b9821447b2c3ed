"""The ranking page, driven in Chromium against the real API: log in, acknowledge the
guidelines, rank by mouse and by keyboard, skip, and run out of work; then check what was
stored."""

from __future__ import annotations

import hashlib

import pytest

from annotation import services
from annotation.models import Annotation, Assignment, Item, Membership, Project, Response
from tests.conftest import MOBILE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TASK = "#annotator[data-state=task]"
EMPTY = "#annotator[data-state=empty]"


def add_item(project: Project, prompt: str | None, responses: list[str], *,
             messages: list[dict] | None = None) -> Item:
    key = repr((prompt, messages, responses)).encode()
    item = Item.objects.create(project=project, prompt=prompt or "", messages=messages,
                               content_hash=hashlib.sha256(key).hexdigest())
    for position, text in enumerate(responses):
        Response.objects.create(item=item, position=position, text=text)
    return item


def make_project(make_user, *, k: int, n_items: int, guideline: str | None, name: str):
    manager = make_user(f"{name}-manager")
    annotator = make_user(f"{name}-annotator")
    project = services.create_project(actor=manager, name=name, responses_per_item=k, overlap=1)
    services.set_membership(actor=manager, project=project, user=annotator,
                            role=Membership.Role.ANNOTATOR)
    if guideline:
        services.publish_guideline(actor=manager, project=project, text=guideline)
    items = [
        add_item(project, f"Question {n}: how do I reverse a list in Python?",
                 [f"Answer {n}.{r}: use `xs[::-1]`.\n\nSecond paragraph {r}." for r in range(k)])
        for n in range(n_items)
    ]
    return project, manager, annotator, items


def shown_ids(page) -> dict[int, int]:
    """Response number as shown (1..K) -> response id."""
    cards = page.locator(".response-card")
    return {
        int(card.get_attribute("data-num")): int(card.get_attribute("data-response-id"))
        for card in cards.all()
    }


def current_assignment(page) -> int:
    return int(page.get_attribute("#annotator", "data-assignment"))


def drag(page, source: str, target: str) -> None:
    """Press on `source`, move a little (the ranking tray then opens its drop gaps), and
    release over `target` — located only once the drag is under way."""
    box = page.locator(source).bounding_box()
    x, y = box["x"] + min(40, box["width"] / 2), box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 15, y + 15, steps=3)
    goal = page.locator(target).bounding_box()
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + goal["height"] / 2, steps=10)
    page.mouse.up()


def wait_for_next_task(page, previous: int) -> None:
    page.wait_for_function(
        """prev => { const root = document.getElementById('annotator');
                     return root.dataset.state !== 'loading' && root.dataset.assignment !== String(prev)
                            || root.dataset.state === 'empty'; }""",
        arg=previous,
    )


def test_rank_by_mouse_and_keyboard_skip_and_run_out(live_server, new_page, log_in, shot, make_user):
    project, _manager, annotator, items = make_project(
        make_user, k=3, n_items=3, guideline="# How to rank\n\nPrefer **correct** answers.",
        name="Python help")
    hostile = items[0].responses.get(position=2)
    hostile.text = '<img src=x onerror="window.__owned=1"> <b>not bold</b>'
    hostile.save()

    page = new_page()
    log_in(page, annotator.username)
    shot(page, "home")
    page.click(f"a.start-annotating[href='/projects/{project.pk}/annotate/']")
    page.wait_for_url(f"**/projects/{project.pk}/guidelines/?next=*")
    assert "Prefer correct answers." in page.inner_text("#guideline-text")
    shot(page, "guidelines")
    page.click("#acknowledge")
    page.wait_for_url(f"**/projects/{project.pk}/annotate/")
    page.wait_for_selector(TASK)
    # Survives only if later tasks come in without reloading the page.
    page.evaluate("window.__samePage = 'yes'")
    shot(page, "first-task")

    # Item 1: mouse only. #2 first, then #1, then #3 dropped onto #1's tier: a tie for 2nd.
    first = current_assignment(page)
    ids = shown_ids(page)
    assert page.locator(".response-body img").count() == 0
    drag(page, ".response-card[data-num='2'] .response-head", ".next-slot")
    drag(page, ".response-card[data-num='1'] .response-head", ".next-slot")
    drag(page, ".response-card[data-num='3'] .response-head", ".tier[data-index='1']")
    assert page.inner_text(".response-card[data-num='3'] .rank-badge") == "Tied 2nd"
    page.check("input[name=flag][value=factually_wrong]")
    shot(page, "ranked-by-mouse")
    page.click("#submit")
    wait_for_next_task(page, first)
    page.wait_for_selector("#feedback .no-model")
    assert page.inner_text("#feedback .no-model") == (
        "No reward model yet: your labels will train the first one.")
    assert page.evaluate("window.__samePage") == "yes"
    assert page.evaluate("window.__owned") is None
    page.wait_for_function(
        "document.querySelector('#progress').textContent.includes('your labels: 1')")
    shot(page, "feedback-and-second-task")

    # Item 2: keyboard only. 2, T, 3 ties #2 and #3 for first; 1 comes last.
    second = current_assignment(page)
    ids2 = shown_ids(page)
    page.keyboard.press("?")
    page.wait_for_selector("#shortcuts-dialog[open]")
    page.keyboard.press("Escape")
    page.wait_for_selector("#shortcuts-dialog", state="hidden")
    page.keyboard.press("1")
    page.keyboard.press("Backspace")  # undone: nothing ranked
    assert page.locator(".tier").count() == 0
    for key in ["2", "t", "3"]:
        page.keyboard.press(key)
    page.focus("#rationale")
    page.keyboard.type("1 is too terse")  # typed text, not shortcuts
    page.keyboard.press("Escape")
    assert page.locator(".tier").count() == 1
    page.keyboard.press("1")
    assert page.inner_text("#tiers").count("Response") == 3
    shot(page, "ranked-by-keyboard")
    page.keyboard.press("Enter")
    wait_for_next_task(page, second)
    assert page.evaluate("window.__samePage") == "yes"

    # Item 3: skipped with S, a reason typed in the dialog and Enter.
    third = current_assignment(page)
    page.keyboard.press("s")
    page.wait_for_selector("#skip-dialog[open]")
    page.keyboard.type("cannot judge code")
    shot(page, "skip-dialog")
    page.keyboard.press("Enter")
    page.wait_for_selector(EMPTY)
    assert "Nothing left to rank" in page.inner_text("#empty")
    assert page.evaluate("window.__samePage") == "yes"
    shot(page, "nothing-left")

    by_assignment = {a.assignment_id: a for a in Annotation.objects.filter(annotator=annotator)}
    assert set(by_assignment) == {first, second}
    mouse = by_assignment[first]
    assert [sorted(t) for t in mouse.ranking] == [[ids[2]], sorted([ids[1], ids[3]])]
    assert mouse.flags == ["factually_wrong"]
    assert mouse.strength is None
    assert mouse.duration_ms > 0
    assert mouse.guideline_version == 1
    keyboard = by_assignment[second]
    assert [sorted(t) for t in keyboard.ranking] == [sorted([ids2[2], ids2[3]]), [ids2[1]]]
    assert keyboard.rationale == "1 is too terse"
    assert keyboard.flags == []
    assert keyboard.duration_ms > 0
    skipped = Assignment.objects.get(pk=third)
    assert skipped.status == Assignment.Status.SKIPPED
    assert "cannot judge code" in skipped.skip_reason


def test_pairs_on_a_phone_with_strength(live_server, new_page, log_in, shot, make_user):
    project, _manager, annotator, _items = make_project(
        make_user, k=2, n_items=2, guideline=None, name="Pairs")

    page = new_page(MOBILE, mobile=True)
    log_in(page, annotator.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/annotate/")
    page.wait_for_selector(TASK)
    shot(page, "pair")
    assert page.is_visible("#strength")

    # Keyboard: 2 over 1, then 3 = "much better" (numbers set the strength once both are ranked).
    first = current_assignment(page)
    ids = shown_ids(page)
    page.keyboard.press("2")
    page.keyboard.press("1")
    page.keyboard.press("3")
    assert page.is_checked("#strength input[value='3']")
    shot(page, "pair-ranked")
    page.keyboard.press("Enter")
    wait_for_next_task(page, first)

    # Taps: the card buttons are the touch-friendly way; a tie leaves strength out.
    second = current_assignment(page)
    ids2 = shown_ids(page)
    page.click(".response-card[data-num='1'] button[data-action=next]")
    page.click(".response-card[data-num='2'] button[data-action=tie]")
    assert page.is_disabled("#strength input[value='1']")
    shot(page, "pair-tied")
    page.click("#submit")
    page.wait_for_selector(EMPTY)
    shot(page, "pair-nothing-left")

    stored = {a.assignment_id: a for a in Annotation.objects.filter(annotator=annotator)}
    assert stored[first].ranking == [[ids[2]], [ids[1]]]
    assert stored[first].strength == 3
    assert sorted(stored[second].ranking[0]) == sorted([ids2[1], ids2[2]])
    assert len(stored[second].ranking) == 1
    assert stored[second].strength is None
    assert all(a.duration_ms > 0 for a in stored.values())


def test_new_guideline_version_sends_the_annotator_back_to_read_it(
        live_server, new_page, log_in, make_user, shot):
    project, manager, annotator, _items = make_project(
        make_user, k=2, n_items=2, guideline="Version one.", name="Changing rules")
    services.acknowledge_guideline(user=annotator, guideline=project.guidelines.get())

    page = new_page()
    # The next task is refused until the new version is acknowledged: that sends them back.
    new_page.allow_http(403, f"/api/v1/projects/{project.pk}/next/")
    log_in(page, annotator.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/annotate/")
    page.wait_for_selector(TASK)
    services.publish_guideline(actor=manager, project=project, text="Version two: ties are fine.")
    page.keyboard.press("1")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/projects/{project.pk}/guidelines/?next=*")
    assert "Version two" in page.inner_text("#guideline-text")
    shot(page, "new-guidelines")
    page.click("#acknowledge")
    page.wait_for_url(f"**/projects/{project.pk}/annotate/")
    page.wait_for_selector(TASK)


def test_lease_runs_out_and_the_work_in_hand_is_kept(live_server, new_page, log_in, make_user):
    project, _manager, annotator, _items = make_project(
        make_user, k=2, n_items=2, guideline=None, name="Short leases")
    # Below the form's minimum on purpose (model validators do not run on save).
    Project.objects.filter(pk=project.pk).update(lease_seconds=4)

    page = new_page()
    log_in(page, annotator.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/annotate/")
    page.wait_for_selector(TASK)
    first = current_assignment(page)
    ids = shown_ids(page)
    # This lease keeps its 4 s; the next one gets time enough for the rest of the test.
    Project.objects.filter(pk=project.pk).update(lease_seconds=600)
    page.keyboard.press("2")
    page.check("input[name=flag][value=unsure]")
    page.wait_for_selector("#lease.warn")
    page.wait_for_function(
        "() => document.getElementById('notice').textContent.includes('Time ran out')",
        timeout=15_000)
    # Nobody else took the item, so the engine leases it to the same annotator again; the
    # page keeps the half-made ranking and the ticked flag.
    page.wait_for_function(
        "() => document.getElementById('notice').textContent.includes('fresh timer')")
    page.wait_for_selector(TASK)
    assert current_assignment(page) == first
    assert page.is_checked("input[name=flag][value=unsure]")
    again = shown_ids(page)
    kept = page.inner_text("#tiers")
    assert f"Response {next(n for n, i in again.items() if i == ids[2])}" in kept
    other = next(n for n, i in again.items() if i == ids[1])
    page.keyboard.press(str(other))
    page.keyboard.press("Enter")
    wait_for_next_task(page, first)
    stored = Annotation.objects.get(assignment_id=first)
    assert stored.ranking == [[ids[2]], [ids[1]]]
    assert stored.flags == ["unsure"]
    assert stored.duration_ms >= 4000


def test_practice_shows_the_expected_ranking_until_the_annotator_qualifies(
        live_server, new_page, log_in, make_user, shot):
    project, manager, annotator, _items = make_project(
        make_user, k=2, n_items=1, guideline=None, name="Practice first")
    services.update_project(actor=manager, project=project,
                            settings={"qualification": {"required": 1, "min_accuracy": 1.0}})
    for n in range(2):
        gold = add_item(project, f"Gold {n}: what is 2 + 2?", ["4", "5"])
        four = gold.responses.get(position=0).pk
        five = gold.responses.get(position=1).pk
        Item.objects.filter(pk=gold.pk).update(is_gold=True, gold_ranking=[[four], [five]])

    page = new_page()
    log_in(page, annotator.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/annotate/")
    page.wait_for_selector(TASK)
    assert page.is_visible("#practice-banner")

    def rank_five_first(best: str) -> None:
        shown = {page.inner_text(f".response-card[data-num='{n}'] .response-body"): n
                 for n in (1, 2)}
        other = "4" if best == "5" else "5"
        page.keyboard.press(str(shown[best]))
        page.keyboard.press(str(shown[other]))
        previous = current_assignment(page)
        page.keyboard.press("Enter")
        wait_for_next_task(page, previous)

    rank_five_first("5")
    page.wait_for_selector("#feedback .verdict.wrong")
    assert "Expected:" in page.inner_text("#feedback .verdict")
    assert "0 of 1 right" in page.inner_text("#feedback .practice-score")
    shot(page, "practice-wrong")
    assert page.is_visible("#practice-banner"), "still practising"

    rank_five_first("4")
    page.wait_for_selector("#feedback .verdict.ok")
    assert "Practice passed" in page.inner_text("#feedback .practice-score")
    shot(page, "practice-passed")
    assert not page.is_visible("#practice-banner"), "real tasks now"
    assert "Question 0" in page.inner_text("#conversation")
    assert Membership.objects.get(project=project, user=annotator).qualified_at is not None


def test_the_apis_refusal_is_shown_and_the_page_moves_on(live_server, new_page, log_in, make_user):
    from annotation.assignment import services as engine

    project, _manager, annotator, _items = make_project(
        make_user, k=2, n_items=2, guideline=None, name="Refusals")
    page = new_page()
    new_page.allow_http(409, "/submit/")  # the refusal this test is about
    log_in(page, annotator.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/annotate/")
    page.wait_for_selector(TASK)
    first = current_assignment(page)
    # The same annotator skips the task from another tab meanwhile.
    engine.skip_assignment(assignment_id=first, annotator=annotator, reason="other tab")
    page.keyboard.press("1")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    wait_for_next_task(page, first)
    assert "was skipped" in page.inner_text("#error")
    assert not Annotation.objects.filter(assignment_id=first).exists()
