"""Guarantees pinned at their boundaries, each by a test that fails when its guard slips by one:
the slot claim never over-fills an item whose queue state is stale, a submission is replayed
only when it is the same submission, the submission's and the practice round's rules hold at
their edges, an import that fails late leaves nothing behind even with real commits, and
login throttling counts 5 failures per username and IP."""

from __future__ import annotations

import io
import random
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from annotation.assignment import reasons, services, statements
from annotation.assignment.validation import (
    InvalidSubmission,
    check_submission,
    qualification_status,
)
from annotation.imports import services as import_services
from annotation.models import Annotation, Assignment, AuditLog, Item, Response

from .conftest import add_items, ranking_for

QueueState = Item.QueueState


# --- the slot claim: the last guard against over-fill ---------------------------------------

def _stale_open(item: Item, *, done: int, live: int) -> None:
    """Counters that fill the item, with a queue state that still says open (as a write
    under an old overlap can leave it)."""
    Item.objects.filter(pk=item.pk).update(annotations_done=done, leases_live=live,
                                           queue_state=QueueState.STARTED)


@pytest.mark.parametrize("done, live", [(2, 0), (1, 1), (0, 2)])
def test_a_full_item_left_open_is_not_leased(make_project, make_annotators, done, live):
    project = make_project(overlap=2)
    full, fresh = add_items(project, 2)
    _stale_open(full, done=done, live=live)
    (alice,) = make_annotators(project, 1)
    task = services.next_task(project_id=project.pk, annotator=alice)
    assert task.item.pk == fresh.pk
    full.refresh_from_db()
    assert (full.annotations_done, full.leases_live, full.queue_state) == (done, live, None)
    assert not Assignment.objects.filter(item=full).exists()


def test_a_full_item_left_open_alone_means_nothing_left(make_project, make_annotators):
    project = make_project(overlap=2)
    (full,) = add_items(project, 1)
    _stale_open(full, done=2, live=0)
    (alice,) = make_annotators(project, 1)
    assert services.next_task(project_id=project.pk, annotator=alice) is None
    full.refresh_from_db()
    assert (full.annotations_done, full.leases_live, full.queue_state) == (2, 0, None)


def test_an_item_one_short_of_full_is_leased(make_project, make_annotators):
    project = make_project(overlap=3)
    (item,) = add_items(project, 1)
    _stale_open(item, done=1, live=1)
    (alice,) = make_annotators(project, 1)
    task = services.next_task(project_id=project.pk, annotator=alice)
    assert task.item.pk == item.pk
    item.refresh_from_db()
    assert (item.leases_live, item.queue_state) == (2, None)


def test_gold_in_place_of_a_full_item_left_open_shows_the_real_head(make_project,
                                                                     make_annotators):
    project = make_project(overlap=2, gold_rate=1.0)
    full, _fresh = add_items(project, 2)
    add_items(project, 1, gold=True, start=100)
    _stale_open(full, done=1, live=1)
    (alice,) = make_annotators(project, 1)
    task = services.next_task(project_id=project.pk, annotator=alice, rng=random.Random(1))
    assert Item.objects.get(pk=task.item.pk).is_gold
    assert task.reason == reasons.OLDEST  # the fresh item's, not the full one's
    assert Item.objects.get(pk=full.pk).queue_state is None


def test_reopening_reopens_exactly_the_closed_items_with_a_free_slot(make_project):
    project, other = make_project(overlap=2), make_project(name="other", overlap=2)
    counters = {"empty": (0, 0), "one label": (1, 0), "one lease": (0, 1), "full": (2, 0),
                "label and lease": (1, 1), "two leases": (0, 2)}
    items = dict(zip(counters, add_items(project, len(counters)), strict=True))
    (gold,) = add_items(project, 1, gold=True, start=50)
    (foreign,) = add_items(other, 1, start=60)
    for name, (done, live) in counters.items():
        Item.objects.filter(pk=items[name].pk).update(annotations_done=done, leases_live=live,
                                                      queue_state=None)
    Item.objects.filter(pk__in=[gold.pk, foreign.pk]).update(queue_state=None)
    assert statements.reopen_items(project_id=project.pk) == 3
    states = dict(Item.objects.values_list("pk", "queue_state"))
    assert {name: states[item.pk] for name, item in items.items()} == {
        "empty": QueueState.NEW, "one label": QueueState.STARTED,
        "one lease": QueueState.STARTED, "full": None, "label and lease": None,
        "two leases": None}
    assert states[gold.pk] is None and states[foreign.pk] is None


def _late(project, client_for, alice, bob):
    """Alice's lease runs out and is reclaimed; Bob takes the slot. Returns Alice's task."""
    client = client_for(alice)
    task = client.get(f"/api/v1/projects/{project.pk}/next/").json()
    Assignment.objects.filter(pk=task["assignment"]).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1))
    services.reclaim_expired_leases()
    return client, task


def test_a_late_label_needs_a_free_slot(make_project, make_annotators, client_for):
    project = make_project(overlap=2)
    (item,) = add_items(project, 1)
    alice, bob, carol = make_annotators(project, 3)
    client, task = _late(project, client_for, alice, bob)
    # One label and one live lease: the item is full, the late label has no place.
    bob_task = services.next_task(project_id=project.pk, annotator=bob)
    services.submit_annotation(assignment_id=bob_task.assignment.pk, annotator=bob,
                               ranking=[[r["id"]] for r in bob_task.responses])
    services.next_task(project_id=project.pk, annotator=carol)
    refused = client.post(task["submit_url"], {"ranking": ranking_for(task)}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (409, "lease_expired")
    item.refresh_from_db()
    assert (item.annotations_done, item.leases_live) == (1, 1)


def test_a_late_label_takes_the_last_free_slot(make_project, make_annotators, client_for):
    project = make_project(overlap=2)
    (item,) = add_items(project, 1)
    alice, bob = make_annotators(project, 2)
    client, task = _late(project, client_for, alice, bob)
    services.next_task(project_id=project.pk, annotator=bob)  # one slot of two left
    accepted = client.post(task["submit_url"], {"ranking": ranking_for(task)}, format="json")
    assert accepted.status_code == 201
    item.refresh_from_db()
    assert (item.annotations_done, item.leases_live, item.queue_state) == (1, 1, None)


# --- replaying a submission ---------------------------------------------------------------

@pytest.fixture
def submitted(make_project, make_annotators, client_for):
    """A K=2 project and one annotator who submitted a full body, with and without a key."""

    def make(key: str | None = None):
        project = make_project(responses_per_item=2, overlap=2)
        add_items(project, 2)
        (user,) = make_annotators(project, 1)
        client = client_for(user)
        task = client.get(f"/api/v1/projects/{project.pk}/next/").json()
        body = {"ranking": ranking_for(task), "strength": 2, "flags": ["unsure", "other"],
                "rationale": "clearer", "duration_ms": 1000}
        headers = {"Idempotency-Key": key} if key else {}
        first = client.post(task["submit_url"], body, format="json", headers=headers)
        assert first.status_code == 201
        return client, task, body, first.json()["annotation"]

    return make


def _again(client, task, body, **headers):
    return client.post(task["submit_url"], body, format="json", headers=headers)


def _unchanged(annotation_id: int) -> None:
    annotation = Annotation.objects.get()
    assert annotation.pk == annotation_id
    assert (annotation.strength, annotation.flags, annotation.rationale) == (
        2, ["unsure", "other"], "clearer")


CHANGES = {
    "other strength": {"strength": 3},
    "no strength": {"strength": None},
    "strength as a boolean": {"strength": True},
    "strength as a float": {"strength": 2.0},
    "a flag more": {"flags": ["unsure", "other", "harmful"]},
    "a flag less": {"flags": ["unsure"]},
    "no flags": {"flags": None},
    "flags not a list": {"flags": "unsure"},
    "flags not strings": {"flags": [["unsure"], "other"]},
    "other rationale": {"rationale": "clearer!"},
    "no rationale": {"rationale": None},
    "rationale not a string": {"rationale": 0},
    "tiers tied": {"ranking": "tie"},
    "ids as floats": {"ranking": "floats"},
}


def _changed(body: dict, change: dict) -> dict:
    changed = {**body, **change}
    if change.get("ranking") == "tie":
        changed["ranking"] = [[rid for tier in body["ranking"] for rid in tier]]
    elif change.get("ranking") == "floats":
        changed["ranking"] = [[float(rid) for rid in tier] for tier in body["ranking"]]
    return changed


@pytest.mark.parametrize("change", list(CHANGES.values()), ids=list(CHANGES))
def test_same_ranking_with_another_detail_is_a_conflict(submitted, change):
    client, task, body, annotation_id = submitted()
    answer = _again(client, task, _changed(body, change))
    assert answer.status_code == 409
    assert answer.json()["code"] == "already_submitted"
    assert answer.json()["annotation"] == annotation_id
    _unchanged(annotation_id)


@pytest.mark.parametrize("change", list(CHANGES.values()), ids=list(CHANGES))
def test_another_key_and_another_body_is_a_conflict(submitted, change):
    client, task, body, annotation_id = submitted(key="first")
    answer = _again(client, task, _changed(body, change), **{"Idempotency-Key": "second"})
    assert (answer.status_code, answer.json()["code"]) == (409, "already_submitted")
    _unchanged(annotation_id)
    assert Annotation.objects.get().idempotency_key == "first"


def test_a_key_after_a_keyless_submit_with_another_body_is_a_conflict(submitted):
    client, task, body, annotation_id = submitted()
    answer = _again(client, task, {**body, "rationale": "x"}, **{"Idempotency-Key": "late"})
    assert (answer.status_code, answer.json()["code"]) == (409, "already_submitted")
    _unchanged(annotation_id)


@pytest.mark.parametrize("headers", [{}, {"Idempotency-Key": "second"}],
                         ids=["no key", "another key"])
def test_the_same_submission_again_is_replayed(submitted, headers):
    client, task, body, annotation_id = submitted(key="first")
    # duration_ms is measured again by a retry; flags are a set; tied ids in any order.
    same = {**body, "duration_ms": 1234, "flags": ["other", "unsure", "other"],
            "ranking": [list(reversed(tier)) for tier in body["ranking"]]}
    answer = _again(client, task, same, **headers)
    assert answer.status_code == 200
    assert (answer.json()["annotation"], answer.json()["created"]) == (annotation_id, False)
    _unchanged(annotation_id)


def test_the_same_key_is_the_same_request(submitted):
    client, task, body, annotation_id = submitted(key="first")
    answer = _again(client, task, {**body, "rationale": "changed"}, **{"Idempotency-Key": "first"})
    assert (answer.status_code, answer.json()["annotation"]) == (200, annotation_id)
    _unchanged(annotation_id)


def test_a_missing_rationale_and_no_flags_replay_as_empty(make_project, make_annotators,
                                                          client_for):
    project = make_project(responses_per_item=3, overlap=1)
    add_items(project, 1)
    (user,) = make_annotators(project, 1)
    client = client_for(user)
    task = client.get(f"/api/v1/projects/{project.pk}/next/").json()
    first = client.post(task["submit_url"], {"ranking": ranking_for(task)}, format="json")
    again = client.post(task["submit_url"], {"ranking": ranking_for(task), "flags": [],
                                             "rationale": "", "strength": None}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)


# --- the submission's and the practice round's rules at their edges -------------------------

@pytest.mark.parametrize("field, value, ok", [
    ("duration_ms", 0, True), ("duration_ms", -1, False),
    # PostgreSQL's integer column: 2**31 - 1 fits, 2**31 does not.
    ("duration_ms", 2_147_483_647, True), ("duration_ms", 2_147_483_648, False),
    ("rationale", "x" * 5000, True), ("rationale", "x" * 5001, False),
])
def test_submission_bounds_hold_exactly(field, value, ok):
    def check():
        return check_submission(ranking=[[1], [2]], response_ids=[1, 2], **{field: value})

    if ok:
        assert getattr(check(), field) == value
    else:
        with pytest.raises(InvalidSubmission) as refused:
            check()
        assert refused.value.errors[0]["field"] == field


def test_qualification_at_its_edges():
    assert qualification_status(correct=[], required=0, min_accuracy=0.8) == (True, None)
    assert qualification_status(correct=[], required=3, min_accuracy=0.8) == (False, None)
    assert qualification_status(correct=[True, True], required=3, min_accuracy=0.5) == (
        False, 1.0)
    # The last three count, and a share exactly at the bar passes.
    assert qualification_status(correct=[False, True, True, False], required=3,
                                min_accuracy=2 / 3) == (True, pytest.approx(2 / 3))
    assert qualification_status(correct=[True, True, True, False], required=3,
                                min_accuracy=0.7) == (False, pytest.approx(2 / 3))


# --- an import that fails late leaves nothing behind ---------------------------------------

class LateFailure(Exception):
    pass


def _trl(n: int) -> bytes:
    return b"".join(
        f'{{"prompt": "q{i}", "chosen": "good {i}", "rejected": "bad {i}"}}\n'.encode()
        for i in range(n))


def _fail_at(monkeypatch, step: str, path: str) -> list[str]:
    """Make one late step of the write raise; returns the steps that ran before it."""
    ran: list[str] = []
    if path == "orm":
        monkeypatch.setattr(import_services, "is_psycopg3", False)
    if step == "audit":
        def audit(**kwargs):
            ran.append("audit")
            raise LateFailure("audit")
        monkeypatch.setattr(import_services, "audit", audit)
    elif path == "copy":
        copy_rows = import_services._copy_rows

        def failing_copy(cursor, model, names, rows, now):
            if model is Annotation:
                raise LateFailure("copy annotations")
            ran.append(model.__name__)
            return copy_rows(cursor, model, names, rows, now)
        monkeypatch.setattr(import_services, "_copy_rows", failing_copy)
    else:
        def failing_bulk_create(objs, **kwargs):
            raise LateFailure("insert annotations")
        monkeypatch.setattr(Annotation.objects, "bulk_create", failing_bulk_create)
    return ran


def _counts(project) -> dict[str, int]:
    return {"items": Item.objects.filter(project=project).count(),
            "responses": Response.objects.filter(item__project=project).count(),
            "annotations": Annotation.objects.filter(project=project).count(),
            "audit": AuditLog.objects.filter(project=project, action="items.import").count()}


PATHS = [pytest.param("orm", id="orm"),
         pytest.param("copy", id="copy", marks=pytest.mark.postgres)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("step", ["annotations", "audit"])
def test_an_import_failing_late_leaves_nothing_behind(make_project, monkeypatch, path, step):
    project = make_project(name="late", responses_per_item=2)
    kept = import_services.import_items(actor=project.created_by, project=project,
                                        source=io.BytesIO(_trl(3)), format="trl")
    assert kept["created"] == 3
    before = _counts(project)
    ran = _fail_at(monkeypatch, step, path)
    with pytest.raises(LateFailure):
        # Over one ORM batch, so a write outside the transaction would commit batches.
        import_services.import_items(actor=project.created_by, project=project,
                                     source=io.BytesIO(_trl(import_services.ORM_BATCH + 500)),
                                     format="trl")
    if path == "copy":
        assert ran[:2] == ["Item", "Response"] or ran == ["audit"]
    assert _counts(project) == before
    # The project is not left locked either: the next import goes through.
    monkeypatch.undo()
    again = import_services.import_items(actor=project.created_by, project=project,
                                         source=io.BytesIO(_trl(5)), format="trl")
    assert again == {"created": 2, "prompts": 0, "duplicates": 3, "imported_labels": 2, "gold": 0,
                     "empty_responses": 0}
    assert connection.get_autocommit()


# --- login throttling: 5 failures per username and IP ----------------------------------------

TOKEN_URL = "/api/v1/auth/token/"
LIMIT = 5


@pytest.fixture
def accounts(make_user):
    return make_user("victim"), make_user("bystander")


def _web(client, username, password, ip):
    response = client.post("/login/", {"username": username, "password": password},
                           REMOTE_ADDR=ip)
    ok = response.status_code == 302 and "_auth_user_id" in client.session
    if ok:
        client.logout()
    return response.status_code, ok


def _token(client, username, password, ip):
    response = client.post(TOKEN_URL, {"username": username, "password": password},
                           format="json", REMOTE_ADDR=ip)
    return response.status_code, response.status_code == 201


LOGINS = {"web": ("client", _web), "token": ("api_client", _token)}


@pytest.fixture(params=list(LOGINS))
def login(request):
    fixture, attempt = LOGINS[request.param]
    client = request.getfixturevalue(fixture)
    return lambda username, password, ip: attempt(client, username, password, ip)


def test_four_failures_still_let_the_user_in(login, accounts):
    from tests.conftest import PASSWORD

    for _ in range(LIMIT - 1):
        status, ok = login("victim", "wrong", "10.0.0.1")
        assert status in (200, 401) and not ok
    assert login("victim", PASSWORD, "10.0.0.1")[1]


@pytest.mark.parametrize("kind", [
    "web", "token",
])
def test_a_success_starts_the_count_again(request, accounts, kind):
    from tests.conftest import PASSWORD

    fixture, attempt = LOGINS[kind]
    client = request.getfixturevalue(fixture)
    for _ in range(2):
        for _ in range(LIMIT - 1):
            attempt(client, "victim", "wrong", "10.0.0.1")
        assert attempt(client, "victim", PASSWORD, "10.0.0.1")[1]


def test_the_fifth_failure_locks_that_username_from_that_ip(login, accounts):
    from tests.conftest import PASSWORD

    statuses = [login("victim", "wrong", "10.0.0.1")[0] for _ in range(LIMIT)]
    assert 429 not in statuses[:-1]
    assert statuses[-1] == 429
    assert login("victim", PASSWORD, "10.0.0.1") == (429, False)


def test_the_lockout_is_per_username_and_ip(login, accounts):
    from tests.conftest import PASSWORD

    for _ in range(LIMIT):
        login("victim", "wrong", "10.0.0.1")
    assert login("victim", PASSWORD, "10.0.0.1") == (429, False)
    # The same username from another address, and another username from the same address,
    # still get in: one attacker cannot lock a user out everywhere, nor everyone out.
    assert login("victim", PASSWORD, "10.0.0.2")[1]
    assert login("bystander", PASSWORD, "10.0.0.1")[1]
    # Failures spread over addresses never add up to a lockout of any one pair.
    for ip in range(LIMIT + 3):
        login("bystander", "wrong", f"10.0.1.{ip}")
    assert login("bystander", PASSWORD, "10.0.1.0")[1]
