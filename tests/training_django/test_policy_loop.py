"""The loop closed: prompts imported alone, responses proposed by the active policy, items
annotated like any other, the next policy run learning from those labels."""

from __future__ import annotations

import pytest

from annotation.assignment import services as assignment
from annotation.assignment.submission import skip_assignment, submit_annotation
from annotation.models import Item, PendingPrompt, Response
from annotation.prompts import services as prompt_services
from training import candidates, data, generation, policy_runs
from training.models import ModelVersion

pytestmark = pytest.mark.django_db(transaction=True)

PROMPTS = b'{"prompt": "How do I boil an egg?"}\n{"messages": [{"role": "user", "content": ' \
          b'"How do I fry an egg?"}], "meta": {"source": "faq"}}\n{"prompt": "Hi there"}\n'


@pytest.fixture(autouse=True)
def fresh_policy_cache():
    generation.clear_policy_cache()
    yield
    generation.clear_policy_cache()


def import_prompts(client, project, body=PROMPTS):
    return client.post(f"/api/v1/projects/{project.pk}/items/import/?format=prompts", body,
                       content_type="application/x-ndjson")


def with_policy(project, callbacks):
    with callbacks(execute=True):
        run = policy_runs.request_policy_training(project=project)
    run.refresh_from_db()
    assert run.status == "succeeded", run.traceback
    return run.model_version


def test_prompts_alone_wait_outside_the_queue(policy_project, client_for):
    project, users = policy_project
    items_before = Item.objects.filter(project=project).count()
    answer = import_prompts(client_for(users["manager"]), project)
    assert answer.status_code == 201, answer.content
    assert answer.json()["prompts"] == 3 and answer.json()["created"] == 0
    assert Item.objects.filter(project=project).count() == items_before
    assert candidates.pending_prompts(project=project) == 3
    fried = PendingPrompt.objects.get(project=project, meta={"source": "faq"})
    assert fried.messages == [{"role": "user", "content": "How do I fry an egg?"}]
    # The same file again: duplicates, nothing stored twice.
    again = import_prompts(client_for(users["manager"]), project)
    assert again.json()["duplicates"] == 3 and again.json()["prompts"] == 0
    # A line with responses is a native line, not a prompt: the whole file is refused.
    bad = import_prompts(client_for(users["manager"]), project,
                         b'{"prompt": "a"}\n{"prompt": "b", "responses": ["x", "y"]}\n')
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["line"] == 2 and "responses" in bad.json()["errors"][0]["message"]
    assert candidates.pending_prompts(project=project) == 3


def test_the_active_policy_proposes_items_annotators_then_rank(
        policy_project, client_for, django_capture_on_commit_callbacks):
    project, users = policy_project
    manager = client_for(users["manager"])
    url = f"/api/v1/projects/{project.pk}/policies/candidates/"
    import_prompts(manager, project)
    assert manager.post(url, {}, format="json").status_code == 409  # no policy yet
    version = with_policy(project, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        answer = manager.post(url, {}, format="json")
    assert answer.status_code == 202 and answer.json() == {"waiting": 3}
    proposed = PendingPrompt.objects.filter(project=project, status="proposed")
    assert proposed.count() == 3 and candidates.pending_prompts(project=project) == 0
    for pending in proposed:
        item = pending.item
        texts = [r.text for r in item.responses.order_by("position")]
        assert len(texts) == project.responses_per_item == len(set(texts))
        assert set(item.responses.values_list("model", flat=True)) == {f"policy-{version.name}"}
        assert item.meta["proposed_by"] == "policy-v1" and item.queue_state == Item.QueueState.NEW
    # Ordinary items: served, ranked, and read by the next run.
    annotator = users["annotator"]
    new_ids = set(proposed.values_list("item_id", flat=True))
    seen = set()
    while task := assignment.next_task(project_id=project.pk, annotator=annotator):
        if task.item.pk in new_ids:
            ids = [r["id"] for r in task.responses]
            submit_annotation(assignment_id=task.assignment.pk, annotator=annotator,
                              ranking=[[ids[0]], [ids[1]]])
            seen.add(task.item.pk)
        else:
            skip_assignment(assignment_id=task.assignment.pk, annotator=annotator)
    assert seen == new_ids
    learned = {c.item_id for c in data.comparisons_for(project=project).comparisons}
    assert new_ids <= learned
    pairs = policy_runs.preference_pairs(data.comparisons_for(project=project).comparisons)
    assert new_ids <= {p.item_id for p in pairs}


def test_a_project_that_asks_gets_proposals_when_a_policy_becomes_active(
        policy_project, client_for, django_capture_on_commit_callbacks):
    project, users = policy_project
    project.settings["policy"].update(propose=True, candidates=2, max_new_tokens=8)
    project.save(update_fields=["settings"])
    import_prompts(client_for(users["manager"]), project)
    with_policy(project, django_capture_on_commit_callbacks)
    assert PendingPrompt.objects.filter(project=project, status="proposed").count() == 3
    assert candidates.propose_all() == {"proposed": 0, "failed": 0}  # nothing left


def test_responses_that_repeat_each_other_fail_the_prompt_with_the_reason(
        policy_project, client_for, monkeypatch, django_capture_on_commit_callbacks):
    project, users = policy_project
    import_prompts(client_for(users["manager"]), project)
    with_policy(project, django_capture_on_commit_callbacks)
    monkeypatch.setattr(generation, "propose", lambda **kwargs: ["same"] * kwargs["n"])
    counts = candidates.propose_for_project(project_id=project.pk, requested=True)
    assert counts == {"proposed": 0, "failed": 3}
    failed = PendingPrompt.objects.filter(project=project, status="failed")
    assert failed.count() == 3 and "1 different responses" in failed[0].error
    assert not Response.objects.filter(model__startswith="policy-").exists()
    # Failed prompts are tried again, up to three attempts in all.
    monkeypatch.undo()
    assert candidates.pending_prompts(project=project) == 3


def test_two_workers_proposing_at_once_make_one_item(policy_project, client_for,
                                                     django_capture_on_commit_callbacks):
    project, users = policy_project
    import_prompts(client_for(users["manager"]), project, b'{"prompt": "Once only"}\n')
    version = with_policy(project, django_capture_on_commit_callbacks)
    pending = PendingPrompt.objects.get(project=project)
    first = prompt_services.propose(pending_id=pending.pk, texts=["a", "b"], model="m")
    second = prompt_services.propose(pending_id=pending.pk, texts=["c", "d"], model="m")
    assert first is not None and second is None
    assert Item.objects.filter(project=project, prompt="Once only").count() == 1
    assert ModelVersion.objects.filter(project=project, kind="policy").count() == 1
    assert version.is_active
