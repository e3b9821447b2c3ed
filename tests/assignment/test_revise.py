"""Revising a label: a new row that supersedes the old, with the rules of submit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from annotation import services as project_services
from annotation.models import Annotation, Assignment, AuditLog, Item

from .conftest import add_items, ranking_for


@pytest.fixture
def labelled(make_project, make_annotators, client_for):
    """A K=3 project with one annotator who submitted one label."""

    def make(k: int = 3, **settings):
        project = make_project(responses_per_item=k, overlap=2, settings=settings)
        add_items(project, 2, k=k)
        (user,) = make_annotators(project, 1)
        client = client_for(user)
        task = client.get(f"/api/v1/projects/{project.pk}/next/").json()
        submitted = client.post(task["submit_url"], {"ranking": ranking_for(task),
                                                     "flags": ["other"]}, format="json")
        assert submitted.status_code == 201, submitted.content
        return project, user, client, task, submitted.json()["annotation"]

    return make


def _revise(client, annotation_id, body):
    return client.post(f"/api/v1/annotations/{annotation_id}/revise/", body, format="json")


def test_a_revision_is_a_new_row_that_takes_over_the_assignment(labelled):
    project, user, client, task, first = labelled()
    reversed_ranking = list(reversed(ranking_for(task)))
    answer = _revise(client, first, {"ranking": reversed_ranking, "rationale": "second look"})
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["supersedes"] == first and body["created"] is True
    old, new = Annotation.objects.get(pk=first), Annotation.objects.get(pk=body["annotation"])
    assert (old.superseded, old.assignment_id) == (True, None)
    assert (new.superseded, new.supersedes_id, new.assignment_id) == (
        False, first, task["assignment"])
    assert new.ranking == reversed_ranking and new.rationale == "second look"
    assert new.annotator == user and new.source == "human"
    item = Item.objects.get(pk=task["item"]["id"])
    assert (item.annotations_done, item.leases_live) == (1, 0)
    assert Assignment.objects.get(pk=task["assignment"]).status == "submitted"
    log = AuditLog.objects.get(action="annotation.revised")
    assert (log.actor, log.project_id, log.target_id, log.data["supersedes"]) == (
        user, project.pk, str(new.pk), first)


def test_repeating_a_revision_returns_the_same_new_label(labelled):
    _project, _user, client, task, first = labelled()
    body = {"ranking": list(reversed(ranking_for(task))), "flags": ["unsure"]}
    one = _revise(client, first, body)
    two = _revise(client, first, {**body, "duration_ms": 7})
    assert (one.status_code, two.status_code) == (201, 200)
    assert two.json()["annotation"] == one.json()["annotation"]
    assert two.json()["created"] is False
    assert Annotation.objects.count() == 2
    other = _revise(client, first, {"ranking": ranking_for(task)})
    assert other.status_code == 409
    assert other.json()["code"] == "label_superseded"
    assert other.json()["annotation"] == one.json()["annotation"]
    # The newest version can be revised again, and counts once.
    again = _revise(client, one.json()["annotation"], {"ranking": ranking_for(task)})
    assert again.status_code == 201
    assert Annotation.objects.filter(superseded=False).count() == 1
    assert Item.objects.get(pk=task["item"]["id"]).annotations_done == 1


def test_a_revision_that_changes_nothing_is_the_label_itself(labelled):
    _project, _user, client, task, first = labelled()
    answer = _revise(client, first, {"ranking": ranking_for(task), "flags": ["other"]})
    assert answer.status_code == 200
    assert (answer.json()["annotation"], answer.json()["created"]) == (first, False)
    assert Annotation.objects.count() == 1


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"ranking": []}, "ranking", "ranking must be a non-empty list"),
    ({"ranking": [[999999]]}, "ranking", "response 999999 is not one of this item's responses"),
    ({"flags": ["spam"]}, "flags", "unknown flag 'spam'"),
    ({"flags": {"123456789": ["harmful"]}}, "flags", "not one of this item's response ids"),
    ({"rationale": 5}, "rationale", "rationale must be a string"),
])
def test_a_revision_is_validated_like_a_submit(labelled, body, field, message):
    _project, _user, client, task, first = labelled()
    full = {"ranking": ranking_for(task), **body}
    answer = _revise(client, first, full)
    assert answer.status_code == 400, answer.content
    assert any(e["field"] == field and message in e["message"] for e in answer.json()["errors"])
    assert Annotation.objects.count() == 1
    assert not Annotation.objects.get(pk=first).superseded


def test_non_object_body_is_400(labelled):
    _project, _user, client, _task, first = labelled()
    answer = _revise(client, first, [1])
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "body"


def test_someone_elses_label_and_outsiders_get_404(labelled, make_annotators, make_user,
                                                   client_for):
    project, _user, _client, task, first = labelled()
    (peer,) = make_annotators(project, 1, prefix="peer")
    outsider = make_user("outsider")
    for who in (peer, outsider):
        client = client_for(who)
        assert _revise(client, first, {"ranking": ranking_for(task)}).status_code == 404
        assert client.get(f"/api/v1/annotations/{first}/").status_code == 404
    assert client_for(outsider).get(
        f"/api/v1/projects/{project.pk}/my-labels/").status_code == 404
    assert not Annotation.objects.get(pk=first).superseded


def test_a_member_who_left_cannot_revise(labelled):
    project, user, client, task, first = labelled()
    project_services.remove_membership(actor=project.created_by,
                                       membership=project.memberships.get(user=user))
    assert _revise(client, first, {"ranking": list(reversed(ranking_for(task)))}
                   ).status_code == 404


def test_revisions_off_is_a_conflict_with_words(labelled):
    _project, _user, client, task, first = labelled(annotation={"allow_revisions": False})
    answer = _revise(client, first, {"ranking": list(reversed(ranking_for(task)))})
    assert answer.status_code == 409
    assert answer.json()["code"] == "revisions_off"
    assert "does not allow" in answer.json()["detail"]


def test_the_revision_window_closes(labelled):
    _project, _user, client, task, first = labelled(annotation={"revision_window_hours": 1})
    body = {"ranking": list(reversed(ranking_for(task)))}
    Assignment.objects.filter(pk=task["assignment"]).update(
        finished_at=Assignment.objects.get(pk=task["assignment"]).finished_at
        - timedelta(hours=2))
    answer = _revise(client, first, body)
    assert answer.status_code == 409
    assert answer.json()["code"] == "revision_window_passed"
    assert "1 hours" in answer.json()["detail"]


def test_excluded_labels_and_practice_answers_are_not_revised(labelled):
    _project, _user, client, task, first = labelled()
    Annotation.objects.filter(pk=first).update(excluded=True)
    answer = _revise(client, first, {"ranking": list(reversed(ranking_for(task)))})
    assert (answer.status_code, answer.json()["code"]) == (409, "label_excluded")
    Annotation.objects.filter(pk=first).update(excluded=False)
    Assignment.objects.filter(pk=task["assignment"]).update(is_practice=True)
    answer = _revise(client, first, {"ranking": list(reversed(ranking_for(task)))})
    assert (answer.status_code, answer.json()["code"]) == (409, "practice_item")
    assert "expected ranking" in answer.json()["detail"]


def test_the_label_to_revise_shows_the_item_as_it_was_shown(labelled):
    _project, _user, client, task, first = labelled()
    answer = client.get(f"/api/v1/annotations/{first}/")
    assert answer.status_code == 200
    body = answer.json()
    assert [r["id"] for r in body["item"]["responses"]] == [
        r["id"] for r in task["item"]["responses"]]
    assert body["ranking"] == ranking_for(task) and body["flags"] == ["other"]
    assert body["revisable"] is True and body["not_revisable_because"] is None
    assert body["revise_url"] == f"/api/v1/annotations/{first}/revise/"
    assert not {"is_gold", "gold_ranking", "rationale"} & set(body)


def test_settings_are_typed():
    from annotation.project_settings import InvalidSettings, ProjectSettings

    assert ProjectSettings.parse({}).annotation.allow_revisions is True
    assert ProjectSettings.parse({}).annotation.revision_window_hours == 0
    with pytest.raises(InvalidSettings) as error:
        ProjectSettings.parse({"annotation": {"allow_revisions": "yes",
                                              "revision_window_hours": -1}})
    fields = {e["field"] for e in error.value.errors}
    assert fields == {"settings.annotation.allow_revisions",
                      "settings.annotation.revision_window_hours"}


def test_a_revised_label_counts_once_with_its_new_ranking_everywhere(make_project,
                                                                     make_annotators,
                                                                     client_for):
    """Agreement, consensus, the review queue's progress, export and training read the
    revision and never the label it replaced."""
    from annotation.exports.dataset import export_rows
    from annotation.exports.params import parse_params
    from annotation.quality.compute import compute
    from annotation.quality.labels import counted_labels
    from annotation.quality.review_queue import progress
    from training.data import comparisons_for, new_comparisons_since

    project = make_project(responses_per_item=2, overlap=2)
    (item,) = add_items(project, 1)
    first, second = item.responses.order_by("position").values_list("pk", flat=True)
    ann, peer = (client_for(user) for user in make_annotators(project, 2))
    labels = {}
    for client, ranking in ((ann, [[first], [second]]), (peer, [[second], [first]])):
        task = client.get(f"/api/v1/projects/{project.pk}/next/").json()
        labels[client] = client.post(task["submit_url"], {"ranking": ranking},
                                     format="json").json()["annotation"]
    assert compute(project=project, method="majority")[item.pk].agreement < 1
    revised = _revise(ann, labels[ann], {"ranking": [[second], [first]]}).json()["annotation"]

    found = counted_labels(project=project)
    assert sorted(label.id for label in found.labels) == sorted([revised, labels[peer]])
    result = compute(project=project, method="majority")[item.pk]
    assert (result.ranking, result.agreement, result.n_labels) == ([[second], [first]], 1.0, 2)
    assert progress(project=project)["labels_last_hour"] == 2
    rows = list(export_rows(project=project, params=parse_params({"format": "annotations"})))
    assert sorted(row["annotation_id"] for row in rows) == sorted([revised, labels[peer]])
    assert {str(row["ranking"]) for row in rows} == {str([[second], [first]])}
    data = comparisons_for(project=project)
    (comparison,) = data.comparisons
    assert (data.fingerprint["n_annotations"], comparison.n_annotations) == (2, 2)
    assert comparison.ranking == [[1], [0]]
    assert new_comparisons_since(project=project, since=None) == 2
