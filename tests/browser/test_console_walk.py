"""The whole web console in one story, as a team runs a project, against the real pages and
API: a manager sets up a project, its members and its guideline; imports items with a
preview and finds them in the item browser; an annotator works in two tabs, flags one
response, watches the progress grow, revises a label; the reward model's feedback keeps up
and a new model is announced; the manager rolls the reward model back and reads the flagged
item with its revision. Each step has its own test elsewhere: this one shows they fit.

The reward model is trained through the product's training path (runs.request_training +
execute_run) on the tiny frozen-encoder settings and labelled pairs of the reward-model
tests, standing in for the labels of an earlier round; the second version is published
and activated the way tests/browser/test_feedback_keeps_up.py does it."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from annotation import services
from annotation.models import Annotation, Item, Project
from tests.browser.test_annotate import TASK, shown_ids, wait_for_next_task
from tests.conftest import MOBILE
from tests.training_django.conftest import FAST, TOPICS, add_pairs
from tests.training_django.test_feedback_fast import second_version
from training import runs as training_runs
from training import scoring
from training.models import ModelVersion

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1366, "height": 900}
PASSWORD = "plum-kettle-autumn-42"
ANNOTATORS = ("walk-ann-one", "walk-ann-two")
GUIDELINE = ("# Be kind\n\nRank the **polite** answer first.\n\n"
             "- Ties are fine when both are equally good\n- Flag a rude answer as *rude*\n")
QUESTIONS = ["How do I boil an egg?", "How do I water an orchid?", "How do I tie a tie?",
             "How do I fold a map?", "How do I clean my glasses?", "How do I sharpen a pencil?",
             "How do I wrap a present?", "How do I fix a squeaky door?"]
WARM_BOUND_MS = 1000


def polite(question: str) -> str:
    return (f"Good question! Here is a friendly, step-by-step way to do it: "
            f"{question[9:-1]} slowly, and ask me again if anything is unclear.")


def rude(question: str) -> str:
    return "Ugh. Look it up yourself, I am not here to answer silly questions."


def import_file() -> bytes:
    """Native JSON Lines: each prompt with a polite and a rude answer, in either order."""
    rows = []
    for n, question in enumerate(QUESTIONS):
        answers = [polite(question), rude(question)]
        rows.append({"prompt": question, "responses": answers if n % 2 else answers[::-1]})
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


# --- helpers of the walk ---------------------------------------------------------------

def submit(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def watched_tab(context, errors: list[str]):
    """Another tab in the same browser context, its console errors and 4xx/5xx answers
    collected in ``errors`` as new_page does for its own pages."""
    tab = context.new_page()
    tab.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    tab.on("console", lambda msg: msg.type == "error" and "Failed to load resource" not in
           msg.text and errors.append(f"console: {msg.text}"))
    tab.on("response", lambda r: r.status >= 400 and errors.append(f"HTTP {r.status} {r.url}"))
    return tab


def wait_for_progress(page, text: str) -> None:
    page.wait_for_function(
        "(t) => document.querySelector('#progress').textContent.includes(t)", arg=text)


def cards_by_kind(page) -> dict[str, int]:
    """The card numbers of the polite and the rude answer on the ranking page."""
    texts = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
        '.response-card')].map((c) => [c.dataset.num, c.querySelector('.response-body')
        .innerText.trim()]))""")
    return {("rude" if text.startswith("Ugh.") else "polite"): int(num)
            for num, text in texts.items()}


def rank(page, first: str, second: str) -> dict[str, int]:
    cards = cards_by_kind(page)
    page.keyboard.press(str(cards[first]))
    page.keyboard.press(str(cards[second]))
    return cards


def set_up_project(page, live_server) -> Project:
    """Step 1: the project, two annotators' accounts on the Members page, the guideline."""
    submit(page, "#new-project")
    page.fill("#id_name", "Polite answers")
    page.fill("#id_description", "Which of two answers is more polite?")
    page.fill("#id_responses_per_item", "2")
    page.fill("#id_overlap", "2")
    page.fill("#id_flags", "harmful\nrude")
    submit(page, "#create-project")
    project = Project.objects.get(name="Polite answers")
    assert page.url == f"{live_server.url}/projects/{project.pk}/"
    assert (project.responses_per_item, project.overlap) == (2, 2)

    submit(page, "#members-summary a")
    for username in ANNOTATORS:
        page.fill("#new_username", username)
        page.fill("#new_password", PASSWORD)
        page.select_option("#new_role", "annotator")
        submit(page, "#new-user button[type=submit]")
        assert f"Account {username} created and added as annotator." in page.inner_text(
            ".messages")
        assert page.get_attribute(f"#member-{username}", "data-role") == "annotator"

    submit(page, ".tabs a:text('Guidelines')")
    page.fill("#id_text", GUIDELINE)
    page.wait_for_function(
        "() => { const p = document.querySelector('#guideline-preview');"
        " return p.dataset.state === 'ready' && p.querySelector('h1')"
        " && p.querySelector('strong').textContent === 'polite'; }")
    assert page.locator("#guideline-preview li").count() == 2
    return project


def import_items(page, live_server, project, shot) -> None:
    """Step 2: the file's preview, the import, and the items listed as open."""
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    submit(page, "a.button:text('Import items')")
    page.set_input_files("#id_file", files=[{"name": "polite.jsonl",
                                             "mimeType": "application/x-ndjson",
                                             "buffer": import_file()}])
    page.wait_for_selector("#preview:not([hidden]) #preview-table tbody tr")
    rows = page.locator("#preview-table tbody tr")
    assert rows.count() == 5  # the first lines only
    assert QUESTIONS[0] in rows.nth(0).inner_text() and "Ugh." in rows.nth(0).inner_text()
    assert page.locator("#preview-table .bad-line").count() == 0
    assert Item.objects.filter(project=project).count() == 0
    shot(page, "import-preview")
    page.click("#import")
    page.wait_for_selector("#import-result")
    assert page.inner_text("#created") == str(len(QUESTIONS))
    shot(page, "imported")
    submit(page, "#items-link")
    assert page.url.rstrip("/").endswith(f"/projects/{project.pk}/items")
    listed = page.locator("#items tbody tr")
    assert listed.count() == len(QUESTIONS)
    assert {row.get_attribute("data-status") for row in listed.all()} == {"open"}
    assert page.locator(".status-tabs .tab[data-status=open] .count").inner_text() == "8"
    assert QUESTIONS[3] in page.inner_text("#items")
    shot(page, "items-open")


def annotate_in_two_tabs(first, errors, live_server, project, shot) -> tuple[int, int]:
    """Step 3: guideline acknowledged, a rank with one response flagged, the second tab's
    progress, and the label revised from "Your labels". The flagged item and label ids."""
    first.goto(f"{live_server.url}/projects/{project.pk}/annotate/")
    first.wait_for_url(f"**/projects/{project.pk}/guidelines/?next=*")
    assert "Rank the polite answer first." in first.inner_text("#guideline-text")
    shot(first, "annotator-guideline")
    first.click("#acknowledge")
    first.wait_for_url(f"**/projects/{project.pk}/annotate/")
    first.wait_for_selector(TASK)
    needed = len(QUESTIONS) * project.overlap
    wait_for_progress(first, f"0 of {needed} labels · your labels: 0")
    second = watched_tab(first.context, errors)
    second.goto(f"{live_server.url}/projects/{project.pk}/annotate/")
    second.wait_for_selector(TASK)
    wait_for_progress(second, "your labels: 0")

    # A hasty first label, rude answer on top; the rude answer flagged from its card.
    first.bring_to_front()
    item_id = int(first.get_attribute("#annotator", "data-item"))
    ids = shown_ids(first)
    cards = rank(first, "rude", "polite")
    first.click(f".response-card[data-num='{cards['rude']}'] .response-flag summary")
    first.check(f".response-card[data-num='{cards['rude']}'] .response-flag input[value=rude]")
    assert first.inner_text(
        f".response-card[data-num='{cards['rude']}'] .response-flag summary") == "Flagged (1)"
    shot(first, "ranked-and-flagged")
    assignment = int(first.get_attribute("#annotator", "data-assignment"))
    first.click("#submit")
    wait_for_next_task(first, assignment)
    wait_for_progress(first, f"1 of {needed} labels · your labels: 1")
    first.wait_for_selector("#feedback[data-state=no-model]")
    label = Annotation.objects.get(assignment_id=assignment)
    rude_id = ids[cards["rude"]]
    assert label.response_flags == {str(rude_id): ["rude"]}

    # The second tab catches up once it is looked at again.
    assert "your labels: 0" in second.inner_text("#progress")
    second.bring_to_front()
    second.evaluate("window.dispatchEvent(new Event('focus'))")
    wait_for_progress(second, f"1 of {needed} labels · your labels: 1")
    shot(second, "second-tab-caught-up")
    second.close()

    # "Your labels": the hasty label, changed to polite first.
    first.bring_to_front()
    first.click("#my-labels-link")
    entry = first.locator(f".label-entry[data-label='{label.pk}']")
    entry.wait_for()
    assert "rude" in entry.inner_text()
    entry.get_by_role("link", name="Change your label").click()
    first.wait_for_selector(TASK)
    assert "You are changing your label" in first.inner_text("#notice")
    first.click(".tier[data-index='0'] .chip-remove")
    first.keyboard.press(str(cards["rude"]))
    first.click("#submit")
    first.wait_for_url(f"**/projects/{project.pk}/my-labels/?revised=*")
    first.wait_for_selector(".label-entry.is-superseded")
    revised = Annotation.objects.get(supersedes=label)
    assert revised.ranking == [[ids[cards["polite"]]], [rude_id]]
    assert revised.response_flags == {str(rude_id): ["rude"]}
    shot(first, "label-revised")
    return item_id, label.pk


def train_first_reward_model(project) -> None:
    """Labels of an earlier round (already complete, so not served again) and a tiny reward
    model trained on them through the product's training path."""
    project.refresh_from_db()
    project.settings = {**project.settings, "reward_model": dict(FAST)}
    project.save(update_fields=["settings"])
    earlier = add_pairs(project, TOPICS[:24], tag="earlier")
    Item.objects.filter(pk__in=[item.pk for item in earlier]).update(
        annotations_done=project.overlap, queue_state=None)
    run = training_runs.request_training(project=project, dispatch=False)
    run = training_runs.execute_run(run_id=run.pk)
    assert run.status == "succeeded", run.traceback
    assert ModelVersion.objects.get(project=project, is_active=True).version == 1
    scoring.clear_scorer_cache()  # a cold web process: opening the page loads it ahead


def submit_polite_first(page) -> tuple[str, list[str]]:
    """Ranks the polite answer first and submits with Enter, noting the moment in the page.
    The item and the two responses' texts in the ranked order."""
    item = page.get_attribute("#annotator", "data-item")
    cards = rank(page, "polite", "rude")
    texts = [page.inner_text(f".response-card[data-num='{cards[kind]}'] .response-body").strip()
             for kind in ("polite", "rude")]
    page.evaluate("() => { window.submittedAt = performance.now(); }")
    page.keyboard.press("Enter")
    return item, texts


def wait_for_answer(page, item: str, timeout: float = 60_000) -> None:
    page.wait_for_selector(f"#feedback[data-item='{item}'][data-state=answered]",
                           timeout=timeout)


def feedback_keeps_up(page, live_server, project, shot) -> None:
    """Step 4: the first answer from the cold model, then answers within a second with the
    responses named by excerpt, then the notice of a new model."""
    train_first_reward_model(project)
    page.goto(f"{live_server.url}/projects/{project.pk}/annotate/")
    page.wait_for_selector(TASK)
    # The tab saw "no model" before: the first model going live is news too.
    page.wait_for_selector("#model-notice[data-version='1']:not([hidden])")
    assert "A new reward model v1 is live" in page.inner_text("#model-notice")
    item, _texts = submit_polite_first(page)
    wait_for_answer(page, item)
    panel = page.locator("#feedback")
    for _ in range(2):
        page.wait_for_selector(TASK)
        item, texts = submit_polite_first(page)
        wait_for_answer(page, item, timeout=10_000)
        took = page.evaluate(
            "() => Number(document.getElementById('feedback').dataset.answeredAt)"
            " - window.submittedAt")
        assert 0 < took < WARM_BOUND_MS, f"feedback took {took:.0f} ms once warm"
        rows = panel.locator(".score-row .score-excerpt")
        assert [rows.nth(i).inner_text() for i in range(2)] == [scoring.excerpt(t) for t in texts]
    assert "Reward model v1" in panel.inner_text()
    shot(page, "feedback-warm")

    labels = Annotation.objects.filter(project=project).count()
    second_version(project, labels=labels)
    page.wait_for_selector(TASK)
    item, _texts = submit_polite_first(page)
    wait_for_answer(page, item)
    notice = page.locator("#model-notice")
    page.wait_for_selector("#model-notice[data-version='2']:not([hidden])")
    assert f"A new reward model v2 is live: trained on {labels} labels" in notice.inner_text()
    assert "Reward model v2" in panel.inner_text()
    shot(page, "new-model-notice")


def roll_back(page, live_server, project, shot) -> None:
    """Step 5: the reward-models page, v1 made active again."""
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    submit(page, "a.button:text('Reward models')")
    assert page.inner_text("#active-name") == "v2"
    submit(page, "#versions button.activate[data-name='v1']")
    assert "active" in page.inner_text("#versions tr[data-version='1']")
    assert page.inner_text("#active-name") == "v1"
    assert ModelVersion.objects.get(project=project, version=1).is_active
    shot(page, "rolled-back")


def read_flagged_item(page, live_server, project, item_id, label_id, shot) -> None:
    """Step 6: the flagged item found in the browser, its label flagged and revised."""
    item = Item.objects.get(pk=item_id)
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    submit(page, "a.button:text('Browse items')")
    page.fill("#id_q", item.prompt)
    with page.expect_navigation():
        page.press("#id_q", "Enter")
    submit(page, f"#items a[href$='/items/{item_id}/']")
    revision = Annotation.objects.get(supersedes_id=label_id)
    original, revised = page.locator(f"#label-{label_id}"), page.locator(f"#label-{revision.pk}")
    assert page.locator("#labels article.label").count() == 2
    assert f"superseded by #{revision.pk}" in original.locator(".label-head").inner_text()
    assert f"revises #{label_id}" in revised.locator(".label-head").inner_text()
    for card in (original, revised):
        assert card.locator(".username").inner_text() == ANNOTATORS[0]
        assert "rude" in card.locator(".response-flags").inner_text()
    shot(page, "flagged-item")
    page.locator("#labels").scroll_into_view_if_needed()
    shot(page, "flagged-item-labels")


def test_a_team_walks_the_whole_console(live_server, new_page, log_in, shot, make_user):
    """Steps 1-6 of the module docstring, in one browser, the manager's tab kept open."""
    lead = make_user("walk-lead")
    lead.user_permissions.add(Permission.objects.get(codename="add_project"))
    manager = new_page(DESKTOP)
    log_in(manager, "walk-lead")
    project = set_up_project(manager, live_server)
    shot(manager, "guideline-preview")
    submit(manager, "#publish")
    assert "Version 1 published." in manager.inner_text(".messages")
    import_items(manager, live_server, project, shot)

    annotator = new_page(DESKTOP)
    tab_errors: list[str] = []
    log_in(annotator, ANNOTATORS[0], PASSWORD)
    item_id, label_id = annotate_in_two_tabs(annotator, tab_errors, live_server, project, shot)
    feedback_keeps_up(annotator, live_server, project, shot)

    roll_back(manager, live_server, project, shot)
    read_flagged_item(manager, live_server, project, item_id, label_id, shot)
    assert not tab_errors, tab_errors


def test_the_key_pages_on_a_phone(live_server, new_page, log_in, shot, make_user):
    """The project page, the items list and the ranking page at phone size."""
    lead = make_user("walk-lead")
    project = services.create_project(actor=lead, name="Polite answers", responses_per_item=2,
                                      overlap=2)
    annotator = make_user(ANNOTATORS[0], password=PASSWORD)
    services.set_membership(actor=lead, project=project, user=annotator, role="annotator")
    client = Client()
    client.force_login(lead)
    answer = client.post(f"/api/v1/projects/{project.pk}/items/import/", import_file(),
                         content_type="application/x-ndjson")
    assert answer.status_code == 201, answer.content

    phone = new_page(MOBILE, mobile=True)
    log_in(phone, "walk-lead")
    phone.goto(f"{live_server.url}/projects/{project.pk}/")
    shot(phone, "mobile-project")
    submit(phone, "a.button:text('Browse items')")
    assert phone.locator("#items tbody tr").count() == len(QUESTIONS)
    shot(phone, "mobile-items")
    assert phone.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"]

    ranking = new_page(MOBILE, mobile=True)
    log_in(ranking, ANNOTATORS[0], PASSWORD)
    ranking.goto(f"{live_server.url}/projects/{project.pk}/annotate/")
    ranking.wait_for_selector(TASK)
    rank(ranking, "polite", "rude")
    shot(ranking, "mobile-ranking")
    assert ranking.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"]
