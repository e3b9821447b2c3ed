"""One item's page: the prompt, the responses, the gold answer, every label with every
field, the skips with their reasons, reviews, consensus and the audit trail."""

from __future__ import annotations

import re

import pytest

from annotation import services
from annotation.models import Annotation, Assignment, Item, Response
from annotation.quality import services as quality_services

from .conftest import SKIP_REASON

pytestmark = pytest.mark.django_db


def page(client, user, project, item_id, status=200):
    client.force_login(user)
    answer = client.get(f"/projects/{project.pk}/items/{item_id}/")
    assert answer.status_code == status, answer.content[:300]
    return answer.content.decode() if status == 200 else answer


def card(html: str, label_id: int) -> str:
    found = re.search(rf'<article class="card label[^"]*" id="label-{label_id}".*?</article>',
                      html, re.S)
    assert found, f"no card for label {label_id}"
    return found.group(0)


@pytest.fixture
def labelled(states):
    """The complete item with its two human labels plus an imported one, per-response
    flags on the first, a revision of the second, an excluded label and audit rows."""
    project, item, users = states.project, states.complete, states.users
    first, second = Annotation.objects.filter(item=item).order_by("pk")
    r0, r1 = Response.objects.filter(item=item).order_by("position")
    Annotation.objects.filter(pk=first.pk).update(response_flags={str(r0.pk): ["harmful"]},
                                                  guideline_version=3)
    # A revision: the earlier label is kept, superseded; the new one takes the assignment.
    assignment = second.assignment
    Annotation.objects.filter(pk=second.pk).update(superseded=True, assignment=None)
    revision = Annotation.objects.create(
        project=project, item=item, assignment=assignment, annotator=users["ann1"],
        ranking=[[r0.pk, r1.pk]], strength=None, rationale="on second thought, a tie",
        supersedes=second)
    services.audit(actor=users["ann1"], action="annotation.revise", project=project,
                   target=revision, supersedes=second.pk)
    imported = Annotation.objects.create(project=project, item=item, source="import",
                                         ranking=[[r1.pk], [r0.pk]], strength=3)
    quality_services.review_item(actor=users["reviewer"], item=item, decision="exclude",
                                 annotation_id=first.pk, note="rude rationale, not a label")
    return {"first": first, "second": second, "revision": revision, "imported": imported,
            "r0": r0, "r1": r1}


def test_every_label_field_is_shown(client, states, labelled):
    html = page(client, states.users["reviewer"], states.project, states.complete.pk)
    first = card(html, labelled["first"].pk)
    for text in ("ann0", 'class="pill source-human">Human</span>',
                 "R1</b> answer 0 to prompt 0", "harmful", "R0 is rude", "12.3 s", "v3",
                 "excluded"):
        assert text in first, text
    assert re.search(r"Response flags</dt><dd[^>]*><span class=\"rf\">R1: <span class=\"pill "
                     r"flag\">harmful</span>", first)
    second = card(html, labelled["second"].pk)
    assert "superseded by" in second and f'#label-{labelled["revision"].pk}' in second
    assert "both fine, first better" in second and "4.0 s" in second
    revision = card(html, labelled["revision"].pk)
    assert f"revises <a href=\"#label-{labelled['second'].pk}\"" in revision
    assert re.search(r'<li><span class="chip"[^>]*><b>R1</b>[^<]*</span><span class="tie"',
                     revision), "a tie is one tier"
    imported = card(html, labelled["imported"].pk)
    assert 'class="pill source-import">Import</span>' in imported
    assert "no annotator" in imported and "<dd>3</dd>" in imported
    created = labelled["first"].created_at.strftime("%Y-%m-%d %H:%M:%S")
    assert created in first


def test_responses_prompt_consensus_reviews_and_audit(client, states, labelled):
    html = page(client, states.users["manager"], states.project, states.complete.pk)
    assert 'id="prompt-text">prompt 0<' in html
    for r in (labelled["r0"], labelled["r1"]):
        assert f"position {r.position} · model-{r.position} · id {r.pk}" in html
        assert r.text in html
    consensus = re.search(r'<section[^>]*id="consensus".*?</section>', html, re.S).group(0)
    assert "No consensus yet" not in consensus and "majority" in consensus
    reviews = re.search(r'<section[^>]*id="reviews".*?</section>', html, re.S).group(0)
    assert "leave one label out" in reviews and "rude rationale, not a label" in reviews
    assert "rev" in reviews
    # Its one flagged label is excluded now; the tie of the revision against the imported
    # label leaves the consensus unsure.
    assert "Needs review: low confidence</a>" in html
    audit = re.search(r'<section[^>]*id="audit".*?</section>', html, re.S).group(0)
    assert "review.exclude" in audit and f"item #{states.complete.pk}" in audit
    assert "annotation.revise" in audit and f"annotation #{labelled['revision'].pk}" in audit


def test_an_item_in_the_review_queue_says_why(client, states):
    html = page(client, states.users["reviewer"], states.project, states.complete.pk)
    assert re.search(r'id="review-reasons" href="/projects/\d+/review/\?item=\d+">'
                     r"Needs review: flagged</a>", html)


def test_skips_are_listed_with_their_reasons(client, states):
    html = page(client, states.users["manager"], states.project, states.in_progress.pk)
    skips = re.search(r'<section[^>]*id="skips".*?</section>', html, re.S).group(0)
    assert "ann0" in skips and SKIP_REASON in skips
    assert Assignment.objects.filter(item=states.in_progress, status="skipped").count() == 1
    assert "1 annotator working on it now" in html and "In progress" in html


def test_a_gold_item_shows_its_answer(client, states):
    html = page(client, states.users["reviewer"], states.project, states.gold.pk)
    gold = re.search(r'<section[^>]*id="gold".*?</section>', html, re.S).group(0)
    assert "Gold answer" in gold and "answer 0 to prompt 4" in gold
    first, second = (m.start() for m in re.finditer(r"<li>", gold))
    assert first < second
    # Not gold: no gold section.
    assert 'id="gold"' not in page(client, states.users["reviewer"], states.project,
                                    states.open[0].pk)


def test_a_conversation_is_shown_turn_by_turn(client, states):
    Item.objects.filter(pk=states.open[0].pk).update(prompt="", messages=[
        {"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And <b>3+3</b>?"}])
    html = page(client, states.users["reviewer"], states.project, states.open[0].pk)
    assert html.count('<li class="turn') == 3
    assert "And &lt;b&gt;3+3&lt;/b&gt;?" in html
    listing = client.get(f"/projects/{states.project.pk}/items/?status=open").content.decode()
    assert "What is 2+2?" in listing


@pytest.mark.parametrize("who", ["ann0", "outsider"])
def test_annotators_and_outsiders_get_404(client, states, who):
    page(client, states.users[who], states.project, states.complete.pk, status=404)


def test_another_projects_item_or_a_missing_one_is_404(client, states):
    page(client, states.users["manager"], states.project, states.other_item.pk, status=404)
    page(client, states.users["manager"], states.project, 2**40, status=404)


def test_the_page_costs_a_fixed_number_of_queries(client, states, labelled,
                                                   django_assert_max_num_queries):
    client.force_login(states.users["reviewer"])
    url = f"/projects/{states.project.pk}/items/{states.complete.pk}/"
    client.get(url)
    with django_assert_max_num_queries(20):
        assert client.get(url).status_code == 200
