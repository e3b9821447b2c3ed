"""The judges console's pages through the Django test client: who may see them, publishing
a constitution (a new version each time, audit-logged, errors next to the principle's
field), adding judges, estimating a run without storing anything (the page and the API's
dry run answer what the run is then created with), the seeded sample selection, and
cancelling a run."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client

from annotation.models import Annotation, AuditLog
from judges import services
from judges.models import Constitution, Judge, JudgeRun, JudgeVerdict
from tests.exports.test_export_api import make_item

from .conftest import PRINCIPLES, openai_judge

pytestmark = pytest.mark.django_db


def client(user=None, *, csrf: bool = False) -> Client:
    c = Client(enforce_csrf_checks=csrf)
    if user is not None:
        c.force_login(user)
    return c


def rows(*principles: dict, extra: int = 0) -> dict:
    """The editor's post for these principles, then ``extra`` blank rows."""
    data = {"rows": str(len(principles) + extra)}
    for n, p in enumerate(principles):
        for field in ("name", "question", "critique", "revision"):
            data[f"p-{n}-{field}"] = p.get(field, "")
    return data


def reward_judge(project, actor, **fields) -> Judge:
    return services.create_judge(actor=actor, project=project, backend="reward_model",
                                 name=fields.pop("name", "rm"), **fields)


def pages(project, judge, run) -> list[str]:
    return [f"/projects/{project.pk}/constitution/", f"/projects/{project.pk}/judges/",
            f"/projects/{project.pk}/judge-runs/{run.pk}/"]


def test_managers_see_the_pages_and_nobody_else(world):
    project, users, _items, _constitution = world
    judge = reward_judge(project, users["manager"])
    run = services.request_run(actor=users["manager"], judge=judge, items="all")
    for url in pages(project, judge, run):
        assert client(users["manager"]).get(url).status_code == 200, url
        assert client(users["staff"]).get(url).status_code == 200, url
        for role in ("reviewer", "annotator", "outsider"):
            assert client(users[role]).get(url).status_code == 404, (role, url)
        assert client().get(url).status_code == 302  # to the login page


def test_the_project_page_links_managers_to_the_console(world):
    project, users, _items, _constitution = world
    link = f'href="/projects/{project.pk}/constitution/"'
    assert link in client(users["manager"]).get(f"/projects/{project.pk}/").content.decode()
    assert link not in client(users["reviewer"]).get(f"/projects/{project.pk}/").content.decode()


def test_posts_need_the_csrf_token(world):
    project, users, _items, _constitution = world
    judge = reward_judge(project, users["manager"])
    manager = client(users["manager"], csrf=True)
    for url, data in [(f"/projects/{project.pk}/constitution/", rows(*PRINCIPLES)),
                      (f"/projects/{project.pk}/judges/", {"name": "x", "backend": "openai"}),
                      (f"/projects/{project.pk}/judges/{judge.pk}/run/",
                       {"items": "all", "action": "start"})]:
        assert manager.post(url, data).status_code == 403, url
    assert Constitution.objects.filter(project=project).count() == 1
    assert not JudgeRun.objects.exists()


def test_publishing_makes_version_2_and_an_audit_row(world):
    project, users, _items, _constitution = world
    url = f"/projects/{project.pk}/constitution/"
    manager = client(users["manager"])
    page = manager.get(url).content.decode()
    assert "Publish as version 2" in page
    assert 'value="harmless"' in page and "Point out anything untrue." in page
    fresh = [{"name": "kind", "question": "Which response is kinder?"},
             {"name": "brief", "question": "Which response is shorter?",
              "critique": "Say what is too long.", "revision": "Cut it down."}]
    # A blank row and a row marked for removal are left out.
    data = {**rows(*fresh, {"name": "gone", "question": "?"}, extra=1), "p-2-remove": "on"}
    answer = manager.post(url, data)
    assert answer.status_code == 303 and answer["Location"] == url
    latest = project.constitutions.get(version=2)
    assert latest.principles == [{**fresh[0], "critique": "", "revision": ""}, fresh[1]]
    assert latest.created_by == users["manager"]
    log = AuditLog.objects.get(project=project, action="constitution.publish",
                               data__version=2)
    assert log.actor == users["manager"]
    page = manager.get(url).content.decode()
    assert "Version 2 published with 2 principles." in page
    assert "Publish as version 3" in page


def test_a_bad_principle_is_named_next_to_its_field_and_nothing_is_stored(world):
    project, users, _items, _constitution = world
    url = f"/projects/{project.pk}/constitution/"
    # Row 1 is blank (skipped), so the service's principles[1] is row 2: the error must
    # land on row 2's question, not row 1's.
    data = rows({"name": "kind", "question": "Kinder?"}, {},
                {"name": "typed name", "question": "   ", "critique": "my critique"})
    answer = client(users["manager"]).post(url, data)
    assert answer.status_code == 400
    assert answer.context["rows"][2]["errors"] == {"question": "This is required."}
    assert answer.context["rows"][1]["errors"] == {}
    html = answer.content.decode()
    assert 'id="p-2-question-problem">This is required.</p>' in html
    assert 'value="typed name"' in html and ">my critique</textarea>" in html
    assert list(project.constitutions.values_list("version", flat=True)) == [1]
    assert not AuditLog.objects.filter(action="constitution.publish", data__version=2).exists()


def test_duplicate_names_and_an_empty_constitution_are_refused(world):
    project, users, _items, _constitution = world
    url = f"/projects/{project.pk}/constitution/"
    manager = client(users["manager"])
    twice = manager.post(url, rows({"name": "a", "question": "q"}, {"name": "a", "question": "r"}))
    assert twice.status_code == 400
    assert "already named 'a'" in twice.context["rows"][1]["errors"]["name"]
    empty = manager.post(url, rows(extra=2))
    assert empty.status_code == 400 and empty.context["problems"] == [
        "Give at least one principle."]
    assert project.constitutions.count() == 1


def test_add_row_keeps_what_was_typed_and_stores_nothing(world):
    project, users, _items, _constitution = world
    url = f"/projects/{project.pk}/constitution/"
    answer = client(users["manager"]).post(
        url, {**rows({"name": "kind", "question": "Kinder?"}), "action": "add"})
    assert answer.status_code == 200
    assert [r["name"] for r in answer.context["rows"]] == ["kind", ""]
    assert 'name="p-1-question"' in answer.content.decode()
    assert project.constitutions.count() == 1


def test_old_versions_are_read_only(world):
    project, users, _items, _constitution = world
    services.publish_constitution(actor=users["manager"], project=project,
                                  principles=[{"name": "only", "question": "Better?"}])
    url = f"/projects/{project.pk}/constitution/"
    manager = client(users["manager"])
    old = manager.get(url + "?version=1")
    assert old.status_code == 200
    html = old.content.decode()
    assert "Version 1" in html and "Which of these responses is less harmful?" in html
    assert 'id="constitution-form"' not in html
    versions = manager.get(url).context["versions"]
    assert [(c.version, len(c.principles)) for c in versions] == [(2, 1), (1, 2)]
    assert manager.get(url + "?version=9").status_code == 404
    assert manager.get(url + "?version=x").status_code == 404


def test_adding_judges_and_per_field_errors(world):
    project, users, _items, _constitution = world
    url = f"/projects/{project.pk}/judges/"
    manager = client(users["manager"])
    bad = manager.post(url, {"name": "mine", "backend": "openai", "model": "judge-7b",
                             "base_url": "localhost:8000", "principles": "sample", "seed": 0})
    assert bad.status_code == 400
    assert "http://" in bad.context["judge_form"].errors["base_url"][0]
    assert 'value="localhost:8000"' in bad.content.decode()
    assert not Judge.objects.exists()
    good = manager.post(url, {"name": "mine", "backend": "openai", "model": "judge-7b",
                              "base_url": "http://localhost:8000/v1", "principles": "all",
                              "seed": 3})
    assert good.status_code == 303 and good["Location"] == url
    judge = Judge.objects.get(project=project)
    assert (judge.name, judge.principles, judge.seed) == ("mine", "all", 3)
    assert AuditLog.objects.filter(action="judge.create", project=project).count() == 1
    again = manager.post(url, {"name": "mine", "backend": "reward_model",
                               "principles": "sample", "seed": 0})
    assert again.status_code == 400 and "exists already" in again.context[
        "judge_form"].errors["name"][0]


def test_the_estimate_stores_nothing_and_is_what_the_run_gets(world):
    project, users, items, _constitution = world
    judge = reward_judge(project, users["manager"], principles="all")
    url = f"/projects/{project.pk}/judges/{judge.pk}/run/"
    manager = client(users["manager"])
    answer = manager.post(url, {"items": "all", "limit": "3", "action": "estimate"})
    assert answer.status_code == 200
    shown = answer.context["cards"][0]["estimate"]["estimate"]
    # Three items ("Question n" + "good answer n" + "bad answer n": 10 + 13 + 12 chars),
    # each judged under both principles.
    assert shown == {"items": 3, "comparisons": 6, "prompt_chars": 2 * 3 * 35,
                     "already_judged": 0}
    html = answer.content.decode()
    assert 'data-key="comparisons">6</dd>' in html and "Start run" in html
    assert not JudgeRun.objects.exists()
    assert not AuditLog.objects.filter(action="judge.run").exists()

    started = manager.post(url, {"items": "all", "limit": "3", "action": "start"})
    run = JudgeRun.objects.get()
    assert started.status_code == 303
    assert started["Location"] == f"/projects/{project.pk}/judge-runs/{run.pk}/"
    assert run.estimate == shown and run.n_items == 3
    assert run.item_ids == [item.pk for item, _ids in items[:3]]
    assert AuditLog.objects.filter(action="judge.run", project=project).count() == 1


def test_a_run_request_error_is_named_on_the_run_form(world):
    project, users, _items, _constitution = world
    judge = reward_judge(project, users["manager"])
    answer = client(users["manager"]).post(f"/projects/{project.pk}/judges/{judge.pk}/run/",
                                           {"items": "sample", "action": "estimate"})
    assert answer.status_code == 400
    form = answer.context["cards"][0]["run_form"]
    assert form.errors["limit"] == ["Say how many items the sample draws."]
    assert not JudgeRun.objects.exists()


def test_the_apis_dry_run_answers_the_estimate_and_stores_nothing(world, client_for):
    project, users, _items, _constitution = world
    judge = reward_judge(project, users["manager"])
    api = client_for(users["manager"])
    answer = api.post(f"/api/v1/judges/{judge.pk}/runs/", {"items": "all", "dry_run": True},
                      format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"estimate": {"items": 4, "comparisons": 4,
                                          "prompt_chars": 4 * 35, "already_judged": 0},
                             "n_items": 4, "constitution_version": 1}
    assert not JudgeRun.objects.exists()
    assert api.post(f"/api/v1/judges/{judge.pk}/runs/", {"dry_run": "maybe"},
                    format="json").status_code == 400
    assert api.post(f"/api/v1/judges/{judge.pk}/runs/", {"items": "sample"},
                    format="json").json()["errors"][0]["field"] == "limit"


def expected_sample(item_ids, seed: int, n: int) -> list[int]:
    """The documented draw: items ranked by SHA-256 of "seed:item id", the first n."""
    ranked = sorted(item_ids, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())
    return sorted(ranked[:n])


def test_the_sample_is_seeded_limited_and_skips_gold_and_judged_items(world):
    project, users, items, constitution = world
    more = [make_item(project, [f"a{n}", f"b{n}"], prompt=f"More {n}") for n in range(8)]
    gold, _ = make_item(project, ["g1", "g2"], prompt="gold", gold=[[0], [1]])
    judge = reward_judge(project, users["manager"], seed=7)
    pool = [item.pk for item, _ids in items + more]
    first = services.request_run(actor=users["manager"], judge=judge, items="sample", limit=5,
                                 dry_run=True)
    again = services.request_run(actor=users["manager"], judge=judge, items="sample", limit=5,
                                 dry_run=True)
    assert first.item_ids == again.item_ids == expected_sample(pool, 7, 5)
    assert len(first.item_ids) == 5 and gold.pk not in first.item_ids
    other_seed = reward_judge(project, users["manager"], name="rm2", seed=8)
    assert services.request_run(actor=users["manager"], judge=other_seed, items="sample",
                                limit=5, dry_run=True).item_ids == expected_sample(pool, 8, 5)
    # An item the judge labelled is left out before the draw, so the sample is still 5.
    judged = first.item_ids[0]
    item = project.items.get(pk=judged)
    annotation = Annotation.objects.create(project=project, item=item, source="ai",
                                           ranking=[[r.pk] for r in item.responses.all()])
    JudgeVerdict.objects.create(annotation=annotation, judge=judge, item=item,
                                principle="harmless", constitution_version=constitution.version,
                                verdict="A", preference=0.9)
    after = services.request_run(actor=users["manager"], judge=judge, items="sample",
                                 limit=5, dry_run=True)
    assert judged not in after.item_ids and len(after.item_ids) == 5
    assert after.item_ids == expected_sample([i for i in pool if i != judged], 7, 5)
    assert after.estimate["already_judged"] == 1
    everything = services.request_run(actor=users["manager"], judge=judge, items="sample",
                                      limit=100, dry_run=True)
    assert len(everything.item_ids) == len(pool) - 1
    assert not JudgeRun.objects.exists()


def test_cancel_then_cancel_again_says_why_not(world):
    project, users, _items, _constitution = world
    judge = reward_judge(project, users["manager"])
    run = services.request_run(actor=users["manager"], judge=judge, items="all")
    url = f"/projects/{project.pk}/judge-runs/{run.pk}/"
    manager = client(users["manager"])
    page = manager.get(url)
    assert page.context["live"] and 'id="cancel-run"' in page.content.decode()
    assert f'data-follow="/api/v1/judge-runs/{run.pk}/"' in page.content.decode()
    answer = manager.post(url + "cancel/")
    assert answer.status_code == 303 and answer["Location"] == url
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert AuditLog.objects.filter(action="judge.cancel", project=project).count() == 1
    twice = manager.post(url + "cancel/")
    assert twice.status_code == 409
    assert "Nothing to cancel: The run is cancelled already." in twice.content.decode()
    finished = manager.get(url)
    assert not finished.context["live"] and 'id="cancel-run"' not in finished.content.decode()


def test_another_projects_run_or_judge_is_not_found(world, make_user):
    project, users, _items, _constitution = world
    from annotation import services as annotation_services

    other = annotation_services.create_project(actor=users["manager"], name="Other",
                                               responses_per_item=2)
    judge = reward_judge(project, users["manager"])
    run = services.request_run(actor=users["manager"], judge=judge, items="all")
    manager = client(users["manager"])
    assert manager.get(f"/projects/{other.pk}/judge-runs/{run.pk}/").status_code == 404
    assert manager.post(f"/projects/{other.pk}/judge-runs/{run.pk}/cancel/").status_code == 404
    assert manager.post(f"/projects/{other.pk}/judges/{judge.pk}/run/",
                        {"items": "all", "action": "start"}).status_code == 404
    assert JudgeRun.objects.count() == 1


def test_critique_and_revise_is_estimated_then_started(world):
    project, users, _items, _constitution = world
    judge = openai_judge(project, users["manager"], "http://127.0.0.1:9/v1")
    url = f"/projects/{project.pk}/judges/{judge.pk}/revise/"
    manager = client(users["manager"])
    answer = manager.post(url, {"items": "all", "rounds": "2", "action": "estimate"})
    assert answer.status_code == 200
    card = answer.context["cards"][0]
    assert card["asked"] == "revise"
    # Four items, two responses each; per response and round a critique and a revision,
    # each sending the prompt ("Question n", 10) and the response (13 or 12 characters).
    assert card["estimate"]["estimate"] == {
        "items": 4, "responses": 8, "calls": 2 * 2 * 8, "prompt_chars": 2 * 2 * 4 * 45,
        "already_revised": 0}
    assert 'data-key="calls">32</dd>' in answer.content.decode()
    assert not JudgeRun.objects.exists()
    started = manager.post(url, {"items": "all", "rounds": "2", "action": "start"})
    run = JudgeRun.objects.get()
    assert started.status_code == 303
    assert started["Location"] == f"/projects/{project.pk}/judge-runs/{run.pk}/"
    assert (run.kind, run.rounds, run.n_items) == ("revise", 2, 4)
    page = manager.get(started["Location"]).content.decode()
    assert "critique and revise ×2" in page and "Pairs made" in page


def test_revise_errors_are_named_and_reward_models_cannot_revise(world):
    project, users, _items, _constitution = world
    judge = openai_judge(project, users["manager"], "http://127.0.0.1:9/v1")
    manager = client(users["manager"])
    url = f"/projects/{project.pk}/judges/{judge.pk}/revise/"
    too_many = manager.post(url, {"items": "all", "rounds": "5", "action": "estimate"})
    assert too_many.status_code == 400
    assert too_many.context["cards"][0]["revise_form"].errors["rounds"]
    sample = manager.post(url, {"items": "sample", "rounds": "1", "action": "estimate"})
    assert sample.status_code == 400
    assert sample.context["cards"][0]["revise_form"].errors["limit"] == [
        "Say how many items the sample draws."]
    rm = reward_judge(project, users["manager"])
    page = manager.get(f"/projects/{project.pk}/judges/").content.decode()
    assert f'id="revise-form-{judge.pk}"' in page and f'id="revise-form-{rm.pk}"' not in page
    refused = manager.post(f"/projects/{project.pk}/judges/{rm.pk}/revise/",
                           {"items": "all", "rounds": "1", "action": "start"})
    assert refused.status_code == 400
    assert not JudgeRun.objects.exists()
