"""An item with an empty response, imported as any item is, ranked in Chromium: the empty
answer gets a card of its own that reads as the page's words (not the model's), ranks by
keyboard and by mouse like any other, and what is sent back names response ids only."""

from __future__ import annotations

import io
import json

import pytest

from annotation import services
from annotation.imports import services as imports
from annotation.models import Annotation, Membership, Response

from .test_annotate import EMPTY, TASK, drag, shown_ids

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REAL = "Use `reversed(xs)` for an iterator, or `xs[::-1]` for a new list."
LITERAL = "(empty response)"  # a model that wrote these very words: a real response
WHITESPACE = "  \n "


def make_project(make_user):
    manager = make_user("empty-manager")
    annotator = make_user("empty-annotator")
    project = services.create_project(actor=manager, name="Silent models", responses_per_item=4,
                                      overlap=1)
    services.set_membership(actor=manager, project=project, user=annotator,
                            role=Membership.Role.ANNOTATOR)
    line = {"prompt": "How do I reverse a list in Python?",
            "responses": ["", {"text": WHITESPACE, "model": "tiny"}, REAL, LITERAL]}
    result = imports.import_items(actor=manager, project=project, format="native",
                                  source=io.BytesIO(json.dumps(line).encode() + b"\n"))
    assert result["empty_responses"] == 2
    return project, annotator


def test_an_empty_response_is_seen_ranked_and_submitted(live_server, new_page, log_in, shot,
                                                        make_user):
    project, annotator = make_project(make_user)
    text_of = dict(Response.objects.filter(item__project=project).values_list("pk", "text"))
    id_of = {text: pk for pk, text in text_of.items()}

    page = new_page()
    sent: list[str] = []
    page.on("request", lambda request: request.method == "POST"
            and sent.append(request.post_data or ""))
    log_in(page, annotator.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/annotate/")
    page.wait_for_selector(TASK)
    num_of = {pk: num for num, pk in shown_ids(page).items()}

    def card(text: str) -> str:
        return f".response-card[data-response-id='{id_of[text]}']"

    # The empty response: a card as tall as the others, with a muted italic placeholder.
    empty = page.locator(card(""))
    assert "is-blank" in empty.get_attribute("class")
    note = empty.locator(".blank-note")
    assert note.is_visible() and note.inner_text() == "(empty response)"
    assert note.evaluate("n => getComputedStyle(n).fontStyle") == "italic"
    described = empty.get_attribute("aria-describedby")
    assert page.inner_text(f"#{described}") == (
        f"Response {num_of[id_of['']]} is empty: the model gave no text.")
    assert empty.bounding_box()["height"] > 150
    assert page.locator(card("")).locator(".response-body").get_attribute("data-blank") == "empty"
    # Whitespace only is told apart from empty.
    assert page.inner_text(f"{card(WHITESPACE)} .blank-note") == "(whitespace only: 4 characters)"
    # A response that says "(empty response)" is shown as what it is: the model's text.
    literal = page.locator(card(LITERAL))
    assert "is-blank" not in literal.get_attribute("class")
    assert literal.locator(".blank-note").count() == 0
    assert literal.locator(".response-body p").inner_text() == LITERAL
    assert literal.locator(".response-body p").evaluate(
        "n => getComputedStyle(n).fontStyle") == "normal"
    assert literal.get_attribute("aria-describedby") is None
    shot(page, "empty-response-unranked")

    # Keyboard: the empty response first (an odd choice, and a legitimate one); mouse: the
    # whitespace one next; then the buttons and keys for the rest.
    page.keyboard.press(str(num_of[id_of[""]]))
    assert page.inner_text(f"{card('')} .rank-badge") == "1st"
    drag(page, f"{card(WHITESPACE)} .response-head", ".next-slot")
    assert page.inner_text(f"{card(WHITESPACE)} .rank-badge") == "2nd"
    page.click(f"{card(LITERAL)} button[data-action=next]")
    page.keyboard.press(str(num_of[id_of[REAL]]))
    assert page.is_enabled("#submit")
    assert "Response" in page.inner_text(".tier.first")
    shot(page, "empty-response-ranked")
    page.keyboard.press("Enter")
    page.wait_for_selector(EMPTY)

    annotation = Annotation.objects.get(annotator=annotator)
    assert annotation.ranking == [[id_of[""]], [id_of[WHITESPACE]], [id_of[LITERAL]],
                                  [id_of[REAL]]]
    # Nothing on the page changed what the responses say.
    assert dict(Response.objects.filter(item__project=project)
                .values_list("pk", "text")) == text_of
    submitted = [body for body in sent if '"ranking"' in body]
    assert len(submitted) == 1
    assert "(empty response)" not in submitted[0] and "whitespace only" not in submitted[0]
