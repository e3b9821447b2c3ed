"""What a reward model learns from: majority consensus per item, prompts, the fingerprint."""

from __future__ import annotations

import pytest

from annotation.models import Annotation, Item, Response
from training.data import comparisons_for
from training.prompts import prompt_text

from .conftest import TOPICS, add_pairs, curt, helpful


def test_prompt_text_flattens_a_conversation():
    messages = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": " Hi "},
                {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Help?"}]
    assert prompt_text(prompt="", messages=messages) == (
        "System: Be kind.\n\nUser: Hi\n\nAssistant: Hello!\n\nUser: Help?")
    assert prompt_text(prompt="Plain prompt", messages=None) == "Plain prompt"


def test_comparisons_map_response_ids_to_positions(roles):
    project, _ = roles
    add_pairs(project, TOPICS[:3])
    data = comparisons_for(project=project)
    assert len(data.comparisons) == 3
    for c in data.comparisons:
        best = c.ranking[0][0]
        assert c.responses[best].startswith("Happy to help")
        assert c.responses[c.ranking[1][0]].startswith("No.")
        item_responses = list(Response.objects.filter(item_id=c.item_id).order_by("position"))
        assert c.response_ids == [r.pk for r in item_responses]
        assert c.weight == 1.0 and c.n_labels == 1
        assert c.n_annotations == 0 and c.agreement is None  # imported: no human ceiling
        assert c.prompt == Item.objects.get(pk=c.item_id).prompt


def test_several_annotators_become_one_weighted_comparison(roles, make_user):
    project, _ = roles
    people = [make_user(f"a{n}") for n in range(3)]
    item = add_pairs(project, TOPICS[:1], annotators=people[:2])[0]
    good = Response.objects.get(item=item, text=helpful(TOPICS[0])).pk
    bad = Response.objects.get(item=item, text=curt(TOPICS[0])).pk
    Annotation.objects.create(project=project, item=item, annotator=people[2],
                              source=Annotation.Source.HUMAN, ranking=[[bad], [good]], strength=3)
    data = comparisons_for(project=project)
    [c] = data.comparisons
    assert c.responses[c.ranking[0][0]] == helpful(TOPICS[0])
    assert c.n_annotations == 3
    assert c.weight == pytest.approx(2 / 3) and c.agreement == pytest.approx(2 / 3)
    assert c.strength == 3
    assert data.human_ceiling() == pytest.approx(2 / 3)


def test_gold_items_ai_labels_and_ties_are_left_out(roles):
    project, _ = roles
    gold, ai, tied, kept = add_pairs(project, TOPICS[:4])
    Item.objects.filter(pk=gold.pk).update(is_gold=True, gold_ranking=[[1], [2]])
    Annotation.objects.filter(item=ai).update(source=Annotation.Source.AI)
    ids = list(Response.objects.filter(item=tied).values_list("pk", flat=True))
    Annotation.objects.filter(item=tied).update(ranking=[ids])
    data = comparisons_for(project=project)
    assert [c.item_id for c in data.comparisons] == [kept.pk]
    # The tie is still an annotation that was read (and fingerprinted); gold and AI are not.
    assert data.fingerprint["n_annotations"] == 2
    assert data.fingerprint["n_comparisons"] == 1


def test_fingerprint_changes_with_the_data_and_only_then(roles):
    project, _ = roles
    add_pairs(project, TOPICS[:3])
    first = comparisons_for(project=project).fingerprint
    assert comparisons_for(project=project).fingerprint == first
    add_pairs(project, TOPICS[3:4], tag="more")
    second = comparisons_for(project=project).fingerprint
    assert second["sha256"] != first["sha256"]
    assert second["n_annotations"] == first["n_annotations"] + 1


def test_conversation_items_read_as_flattened_text(roles):
    project, _ = roles
    item = Item.objects.create(project=project, content_hash="conv", messages=[
        {"role": "user", "content": "Tell me a joke"}])
    a = Response.objects.create(item=item, position=0, text="Why did the chicken...")
    b = Response.objects.create(item=item, position=1, text="No.")
    Annotation.objects.create(project=project, item=item, source="import", ranking=[[a.pk], [b.pk]])
    [c] = comparisons_for(project=project).comparisons
    assert c.prompt == "User: Tell me a joke"
    assert c.ranking == [[0], [1]]


def test_imported_labels_train_but_are_no_annotator_in_the_human_ceiling(roles, make_user):
    project, _ = roles
    people = [make_user(f"h{n}") for n in range(2)]
    # One imported label and one human label: one human, so no ceiling at all.
    single = add_pairs(project, TOPICS[:1], tag="one")[0]
    good = Response.objects.get(item=single, text=helpful(TOPICS[0])).pk
    bad = Response.objects.get(item=single, text=curt(TOPICS[0])).pk
    Annotation.objects.create(project=project, item=single, annotator=people[0],
                              source=Annotation.Source.HUMAN, ranking=[[good], [bad]])
    data = comparisons_for(project=project)
    [c] = data.comparisons
    assert (c.n_annotations, c.agreement, data.human_ceiling()) == (1, None, None)
    assert c.n_labels == 2  # both still make the consensus it trains on

    # Two humans who agree, against an imported label: they agree fully with each other,
    # while training still weighs in the imported dissent.
    pair = add_pairs(project, TOPICS[1:2], tag="two", flip=True)[0]
    good = Response.objects.get(item=pair, text=helpful(TOPICS[1])).pk
    bad = Response.objects.get(item=pair, text=curt(TOPICS[1])).pk
    for person in people:
        Annotation.objects.create(project=project, item=pair, annotator=person,
                                  source=Annotation.Source.HUMAN, ranking=[[good], [bad]])
    data = comparisons_for(project=project)
    c = next(c for c in data.comparisons if c.item_id == pair.pk)
    assert (c.n_annotations, c.n_labels) == (2, 3)
    assert c.agreement == 1.0 and c.weight == pytest.approx(2 / 3)
    assert c.responses[c.ranking[0][0]] == helpful(TOPICS[1])
    assert data.human_ceiling() == 1.0


def test_reviewer_decisions_and_exclusions_and_the_consensus_method_reach_training(
        roles, make_user):
    from annotation.models import Review
    from annotation.quality import services as quality

    project, _ = roles
    people = [make_user(f"r{n}") for n in range(3)]
    first, second = add_pairs(project, TOPICS[:2], annotators=people[:2])
    good = Response.objects.get(item=first, text=helpful(TOPICS[0])).pk
    bad = Response.objects.get(item=first, text=curt(TOPICS[0])).pk
    reviewer = make_user("reviewer")
    # A reviewer's own ranking replaces the annotators' majority.
    quality.review_item(actor=reviewer, item=first, decision=Review.Decision.RANK,
                        ranking=[[bad], [good]])
    data = comparisons_for(project=project)
    by_item = {c.item_id: c for c in data.comparisons}
    assert by_item[first.pk].responses[by_item[first.pk].ranking[0][0]] == curt(TOPICS[0])
    assert data.fingerprint["reviewed_items"] == 1
    # Excluded labels are not read at all.
    for label in Annotation.objects.filter(item=second):
        quality.review_item(actor=reviewer, item=second, decision=Review.Decision.EXCLUDE,
                            annotation_id=label.pk)
    data = comparisons_for(project=project)
    assert second.pk not in {c.item_id for c in data.comparisons}
    # Another consensus method is used when the project says so.
    project.settings = {"quality": {"consensus": "bradley_terry"}}
    project.save()
    data = comparisons_for(project=project)
    assert data.fingerprint["consensus"] == "bradley_terry"
    assert [c.item_id for c in data.comparisons] == [first.pk]
