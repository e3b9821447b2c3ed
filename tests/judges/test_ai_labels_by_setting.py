"""Where AI labels count: never as a person (agreement, annotator trust and agreement, the
review queue), in the consensus only with ``judges.in_consensus`` or ``?source=``, in
training only with ``judges.in_training``."""

from __future__ import annotations

import pytest
from django.test import Client

from annotation import services
from annotation.models import Annotation, Membership
from annotation.quality import services as quality
from annotation.quality.models import Consensus
from tests.exports.test_export_api import label, lines, make_item, url
from training import data

pytestmark = pytest.mark.django_db
AI = Annotation.Source.AI


@pytest.fixture
def world(make_user):
    """A K=2 project. ``lone``: one person says x > y, two AI labels say y > x. ``split``:
    two people say x > y, one y > x (agreement 2/3), three AI labels say y > x. ``sure``:
    two people agree x > y (agreement 1, confidence 1), two AI labels say y > x."""
    manager = make_user("ai-manager")
    project = services.create_project(actor=manager, name="AI labels", responses_per_item=2,
                                      overlap=3)
    people = {"manager": manager}
    for n in range(3):
        people[n] = make_user(f"ai-a{n}")
        services.set_membership(actor=manager, project=project, user=people[n],
                                role=Membership.Role.ANNOTATOR)
    items = {}
    for name, humans in (("lone", (0,)), ("split", (0, 0, 1)), ("sure", (0, 0))):
        item, (x, y) = make_item(project, [f"{name} x", f"{name} y"], prompt=name)
        items[name] = (item, x, y)
        for n, winner in enumerate(humans):
            ranking = [[x], [y]] if winner == 0 else [[y], [x]]
            label(project, item, people[n], ranking, duration_ms=8000)
    return project, people, items


def add_ai_labels(project, items):
    for name, n_ai in (("lone", 2), ("split", 3), ("sure", 2)):
        item, x, y = items[name]
        for _ in range(n_ai):
            label(project, item, None, [[y], [x]], source=AI)


def configure(project, **judges):
    project.settings = {**(project.settings or {}), "judges": judges}
    project.save(update_fields=["settings"])


def detail(client, item, query=""):
    answer = client.get(f"/api/v1/items/{item.pk}/{query}")
    assert answer.status_code == 200, answer.content
    return answer.json()["consensus"]


def test_off_the_human_consensus_stands_on_the_ai_labels_vote(world, client_for):
    project, people, items = world
    add_ai_labels(project, items)
    client = client_for(people["manager"])
    lone, x, y = items["lone"]
    off = detail(client, lone)
    assert (off["ranking"], off["n_labels"], off["confidence"]) == ([[x], [y]], 1, 1.0)
    configure(project, in_consensus=True)
    on = detail(client, lone)
    # Two AI votes against one person's: y wins, 2 of the 3 pair votes agree with it.
    assert (on["ranking"], on["n_labels"]) == ([[y], [x]], 3)
    assert on["confidence"] == pytest.approx(2 / 3)
    assert on["agreement"] is None  # one person: no human agreement figure
    # The stored row followed the setting (its fingerprint names the sources).
    stored = Consensus.objects.get(item=lone, method="majority")
    assert stored.ranking == [[y], [x]] and stored.n_labels == 3
    configure(project, in_consensus=False)
    assert detail(client, lone)["ranking"] == [[x], [y]]


def test_source_parameter_overrides_the_setting_per_request(world, client_for):
    project, people, items = world
    add_ai_labels(project, items)
    client = client_for(people["manager"])
    lone, x, y = items["lone"]
    assert detail(client, lone)["ranking"] == [[x], [y]]
    assert detail(client, lone, "?source=human,import,ai")["ranking"] == [[y], [x]]
    assert detail(client, lone, "?source=ai")["n_labels"] == 2
    # Asked for, not stored: the stored consensus still follows the settings.
    assert Consensus.objects.get(item=lone, method="majority").ranking == [[x], [y]]
    assert detail(client, lone)["ranking"] == [[x], [y]]
    configure(project, in_consensus=True)
    assert detail(client, lone, "?source=human")["ranking"] == [[x], [y]]
    assert detail(client, lone, "?source=human&consensus=bradley_terry")["ranking"] == [[x], [y]]
    bad = client.get(f"/api/v1/items/{lone.pk}/?source=human,robot")
    assert bad.status_code == 400 and "source" in bad.content.decode()


def test_stored_consensus_by_every_method_follows_the_setting(world):
    project, _people, items = world
    add_ai_labels(project, items)
    split, x, y = items["split"]
    quality.store_consensus(project=project)
    assert {c.method: c.ranking for c in Consensus.objects.filter(item=split)} == {
        m: [[x], [y]] for m in ("majority", "bradley_terry", "dawid_skene")}
    configure(project, in_consensus=True)
    quality.store_consensus(project=project)
    rows = {c.method: c for c in Consensus.objects.filter(item=split)}
    assert {m: c.ranking for m, c in rows.items()} == {
        m: [[y], [x]] for m in ("majority", "bradley_terry", "dawid_skene")}
    # agreement stays the people's: 2 of their 3 votes equal their majority.
    assert [c.agreement for c in rows.values()] == [pytest.approx(2 / 3)] * 3
    assert {c.n_labels for c in rows.values()} == {6}


def test_agreement_figure_is_the_same_with_ai_labels_whatever_the_settings(world, client_for):
    project, people, items = world
    client = client_for(people["manager"])
    split, _x, _y = items["split"]
    before = detail(client, split)["agreement"]
    assert before == pytest.approx(2 / 3)
    add_ai_labels(project, items)
    for settings in ({}, {"in_consensus": True}, {"in_consensus": True, "in_training": True}):
        configure(project, **settings)
        assert detail(client, split)["agreement"] == before


def _quality_answers(client, project):
    agreement = client.get(f"/api/v1/projects/{project.pk}/agreement/")
    table = client.get(f"/api/v1/projects/{project.pk}/annotators/")
    queue = client.get(f"/api/v1/projects/{project.pk}/review-queue/")
    assert agreement.status_code == table.status_code == queue.status_code == 200
    return agreement.json(), table.json(), queue.json()


def test_annotator_figures_and_review_queue_never_read_ai_labels(world, client_for):
    project, people, items = world
    client = client_for(people["manager"])
    agreement, table, queue = _quality_answers(client, project)
    sure = items["sure"][0]
    assert sure.pk not in [row["item"] for row in queue["results"]]
    add_ai_labels(project, items)
    for settings in ({}, {"in_consensus": True}, {"in_consensus": True, "in_training": True}):
        configure(project, **settings)
        assert _quality_answers(client, project) == (agreement, table, queue)
    # With the AI votes, "sure" is a tie no vote equals (confidence 0, below the queue's
    # 0.6): the queue leaves it out because it reads people's labels only.
    on = detail(client, sure)
    assert (on["ranking"], on["confidence"]) == ([sorted(items["sure"][1:])], 0.0)


def test_consensus_export_counts_ai_labels_by_setting_or_source(world, client_for):
    project, people, items = world
    add_ai_labels(project, items)
    client = client_for(people["manager"])
    lone, x, y = items["lone"]
    split = items["split"][0]

    def rows(**query):
        return {row["item_id"]: row for row in lines(client.get(url(project, format="consensus",
                                                                    **query)))}

    off = rows()
    assert (off[lone.pk]["ranking"], off[lone.pk]["n_labels"]) == ([[x], [y]], 1)
    configure(project, in_consensus=True)
    on = rows()
    assert (on[lone.pk]["ranking"], on[lone.pk]["n_labels"]) == ([[y], [x]], 3)
    # Votes, not people: n_annotations and agreement stay the people's.
    assert (on[split.pk]["n_annotations"], on[split.pk]["agreement"]) == (
        3, pytest.approx(2 / 3))
    assert rows(source="human")[lone.pk]["ranking"] == [[x], [y]]
    # The pair formats and the label list are unchanged by the setting.
    trl = {row["item_id"]: row for row in lines(client.get(url(project)))}
    assert trl[lone.pk]["chosen"] == "lone x"


def _ranking_of(training, item_id):
    return next(c.ranking for c in training.comparisons if c.item_id == item_id)


@pytest.mark.parametrize("method", ["majority", "bradley_terry"])
def test_training_reads_ai_labels_only_with_in_training(world, method):
    project, _people, items = world
    project.settings = {"quality": {"consensus": method}}
    project.save(update_fields=["settings"])
    lone = items["lone"][0]
    people_only = data.comparisons_for(project=project)
    add_ai_labels(project, items)
    # Consensus on, training off: training still learns from people only.
    project.settings = {"quality": {"consensus": method}, "judges": {"in_consensus": True}}
    project.save(update_fields=["settings"])
    off = data.comparisons_for(project=project)
    assert _ranking_of(off, lone.pk) == [[0], [1]]
    assert off.fingerprint == people_only.fingerprint
    assert data.new_comparisons_since(project=project, since=None) == 6
    project.settings = {"quality": {"consensus": method}, "judges": {"in_training": True}}
    project.save(update_fields=["settings"])
    on = data.comparisons_for(project=project)
    assert _ranking_of(on, lone.pk) == [[1], [0]]
    lone_comparison = next(c for c in on.comparisons if c.item_id == lone.pk)
    assert (lone_comparison.n_annotations, lone_comparison.n_labels) == (1, 3)
    assert lone_comparison.agreement is None
    # Activation compares people's labels: AI labels are counted apart.
    assert on.fingerprint["n_annotations"] == off.fingerprint["n_annotations"] == 6
    assert on.fingerprint["n_ai_labels"] == 7 and off.fingerprint["n_ai_labels"] == 0
    assert on.fingerprint["sha256"] != off.fingerprint["sha256"]
    assert data.new_comparisons_since(project=project, since=None) == 13
    # Each item's agreement stays the people's; "sure" (two people agree, two AI labels
    # disagree) ties and carries no preference any more.
    split = items["split"][0].pk
    assert [c.agreement for c in off.comparisons if c.item_id == split] == [pytest.approx(2 / 3)]
    assert [c.agreement for c in on.comparisons if c.item_id == split] == [pytest.approx(2 / 3)]
    assert items["sure"][0].pk not in {c.item_id for c in on.comparisons}


def test_settings_api_checks_the_judges_switches(world, client_for):
    project, people, _items = world
    client = client_for(people["manager"])
    answer = client.patch(f"/api/v1/projects/{project.pk}/",
                          {"settings": {"judges": {"in_consensus": "yes", "in_training": 1}}},
                          format="json")
    assert answer.status_code == 400
    named = {e["field"]: e["message"] for e in answer.json()["errors"]}
    assert named == {"settings.judges.in_consensus": "must be true or false",
                     "settings.judges.in_training": "must be true or false"}
    project.refresh_from_db()
    assert "judges" not in (project.settings or {})
    answer = client.patch(f"/api/v1/projects/{project.pk}/",
                          {"settings": {"judges": {"in_consensus": True}}}, format="json")
    assert answer.status_code == 200, answer.content
    project.refresh_from_db()
    assert project.settings["judges"] == {"in_consensus": True}


def test_console_settings_page_has_the_judges_switches(world):
    project, people, _items = world
    client = Client()
    client.force_login(people["manager"])
    page = client.get(f"/projects/{project.pk}/settings/")
    assert page.status_code == 200
    groups = {group["name"]: group for group in page.context["form"].grouped()}
    judges = groups["judges"]
    assert judges["title"] == "AI judges"
    fields = {field.name: field for field in judges["fields"]}
    assert set(fields) == {"judges__in_consensus", "judges__in_training"}
    assert fields["judges__in_consensus"].label == "in consensus"
    assert "consensus export" in fields["judges__in_consensus"].help_text
    assert "AI labels" in fields["judges__in_training"].help_text
    html = page.content.decode()
    assert "AI judges" in html and "reward models and policies also learn" in html
