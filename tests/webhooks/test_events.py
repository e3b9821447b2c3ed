"""Who announces what: emit's fan-out, item.completed from the submit that completes an
item, model.published from the registry."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from annotation import services as project_services
from annotation.assignment import services as engine
from annotation.models import Item, Response
from annotation.webhooks import services
from annotation.webhooks.models import Webhook, WebhookDelivery

from .conftest import SECRET

pytestmark = pytest.mark.django_db
URL = "https://hooks.example.com/rankwise"


def test_emit_writes_one_row_per_active_subscribed_hook(project_with_roles, hook_for,
                                                        django_capture_on_commit_callbacks):
    project, users = project_with_roles
    wanted = hook_for(URL, events=["item.completed", "snapshot.ready"])
    hook_for(URL, events=["model.published"])
    inactive = hook_for(URL, events=["snapshot.ready"])
    Webhook.objects.filter(pk=inactive.pk).update(active=False)
    other = project_services.create_project(actor=users["manager"], name="Other")
    hook_for(URL, events=["snapshot.ready"], project=other)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ids = services.emit(project=project, event="snapshot.ready", payload={"rows": 1})
    assert list(WebhookDelivery.objects.values_list("id", "webhook_id")) == [(ids[0], wanted.pk)]
    assert len(callbacks) == 1  # one task, sent once the transaction commits


def test_emit_without_hooks_writes_nothing(project_with_roles,
                                           django_capture_on_commit_callbacks):
    project, _ = project_with_roles
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.emit(project=project.pk, event="snapshot.ready", payload={}) == []
    assert not WebhookDelivery.objects.exists() and callbacks == []


def test_a_rolled_back_event_is_never_announced(project_with_roles, hook_for,
                                                django_capture_on_commit_callbacks):
    project, _ = project_with_roles
    hook_for(URL)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with transaction.atomic():
            services.emit(project=project, event="snapshot.ready", payload={})
            transaction.set_rollback(True)
    assert not WebhookDelivery.objects.exists() and callbacks == []


def test_unknown_events_and_payloads_as_json(project_with_roles, hook_for):
    project, _ = project_with_roles
    hook_for(URL)
    with pytest.raises(ValueError):
        services.emit(project=project, event="snapshot.done", payload={})
    snapshot, when = uuid.uuid4(), timezone.now()
    (delivery_id,) = services.emit(project=project, event="snapshot.ready", payload={
        "snapshot": snapshot, "finished_at": when, "agreement": float("nan")})
    payload = WebhookDelivery.objects.get(pk=delivery_id).payload
    assert payload["snapshot"] == str(snapshot) and payload["agreement"] is None
    # Django's encoder: ISO 8601 to the millisecond (ECMA-262's date format).
    assert abs(parse_datetime(payload["finished_at"]) - when) < timedelta(milliseconds=1)


# --- item.completed ---------------------------------------------------------------------

def _item(project, tag="x") -> Item:
    item = Item.objects.create(project=project, prompt=f"prompt {tag}",
                               content_hash=f"hook-{project.pk}-{tag}")
    Response.objects.bulk_create([Response(item=item, position=p, text=f"answer {p}")
                                  for p in range(project.responses_per_item)])
    return item


def _label(project, user):
    task = engine.next_task(project_id=project.pk, annotator=user)
    engine.submit_annotation(assignment_id=task.assignment.pk, annotator=user,
                             ranking=[[r["id"]] for r in task.responses])
    return task


def _completed():
    return list(WebhookDelivery.objects.filter(event="item.completed")
                .values_list("payload", flat=True))


def test_item_completed_fires_once_when_the_item_reaches_its_overlap(
        project_with_roles, make_user, hook_for):
    project, users = project_with_roles  # overlap 2
    item = _item(project)
    hook_for(URL, events=["item.completed"])
    hook_for(URL, events=["snapshot.ready"])
    third = make_user("third")
    project_services.set_membership(actor=users["manager"], project=project, user=third,
                                    role="annotator")

    _label(project, users["annotator"])
    assert _completed() == []  # 1 of 2
    second = _label(project, users["reviewer"])
    (payload,) = _completed()
    assert payload["item"] == item.pk
    assert (payload["annotations"], payload["overlap"]) == (2, 2)
    assert payload["annotation"] == second.assignment.annotation.pk
    # Nothing more to label and nothing more announced; a raised overlap completes it anew.
    assert engine.next_task(project_id=project.pk, annotator=third) is None
    project_services.update_project(actor=users["manager"], project=project, overlap=3)
    _label(project, third)
    assert [(p["item"], p["annotations"], p["overlap"]) for p in _completed()] == [
        (item.pk, 3, 3), (item.pk, 2, 2)]


def _submit_queries(project, user) -> int:
    task = engine.next_task(project_id=project.pk, annotator=user)
    with CaptureQueriesContext(connection) as captured:
        engine.submit_annotation(assignment_id=task.assignment.pk, annotator=user,
                                 ranking=[[r["id"]] for r in task.responses])
    return len([q for q in captured.captured_queries
                if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))])


def test_only_the_completing_submit_pays_for_webhooks(project_with_roles, hook_for):
    project, users = project_with_roles
    plain = project_services.create_project(actor=users["manager"], name="No hooks",
                                            responses_per_item=2, overlap=2)
    for where in (project, plain):
        _item(where, tag=f"q{where.pk}")
    project_services.set_membership(actor=users["manager"], project=plain,
                                    user=users["annotator"], role="annotator")
    project_services.set_membership(actor=users["manager"], project=plain,
                                    user=users["reviewer"], role="annotator")
    hook_for(URL, events=["item.completed"])

    # The first label of an item costs the same with a hook as without.
    first = _submit_queries(plain, users["annotator"])
    assert _submit_queries(project, users["annotator"]) == first
    # The completing one looks the hooks up (one query), and writes the delivery when
    # there is a hook (one more).
    without = _submit_queries(plain, users["reviewer"])
    assert without == first + 1
    assert _submit_queries(project, users["reviewer"]) == without + 1
    assert len(_completed()) == 1


# --- model.published ----------------------------------------------------------------------

def _publish(project, *, activate=True):
    from training import registry
    from training.models import TrainingRun

    run = TrainingRun.objects.create(project=project, status="running")
    staging = registry.staging_dir(kind="reward", run=run)
    (staging / "model.safetensors").write_bytes(b"weights")
    return registry.publish(kind="reward", run=run, staging=staging,
                            metrics={"accuracy": 0.9}, config={}, fingerprint={},
                            eval_split={}, activate=activate, outcome="test", curve=[])


def test_model_published_fires_when_a_version_becomes_active(
        project_with_roles, hook_for, django_capture_on_commit_callbacks):
    from training import registry

    project, users = project_with_roles
    hook_for(URL, events=["model.published"])
    with django_capture_on_commit_callbacks(execute=False):
        first = _publish(project)
        kept = _publish(project, activate=False)  # published, not better: not announced
        registry.activate_version(version=kept, actor=users["manager"])  # by hand
    payloads = list(WebhookDelivery.objects.filter(event="model.published").order_by("id")
                    .values_list("payload", flat=True))
    assert [(p["kind"], p["version"], p["name"]) for p in payloads] == [
        ("reward", first.version, first.name), ("reward", kept.version, kept.name)]
    assert payloads[0]["metrics"] == {"accuracy": 0.9}
    assert payloads[0]["training_run"] == first.training_run_id
    assert payloads[0]["activated_at"]


def test_a_hook_secret_signs_but_is_never_stored_in_a_payload(project_with_roles, hook_for):
    project, _ = project_with_roles
    hook_for(URL, events=["model.published"])
    _publish(project)
    assert SECRET not in str(list(WebhookDelivery.objects.values_list("payload", flat=True)))
