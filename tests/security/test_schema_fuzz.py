"""Schemathesis over every operation of ``/api/schema/``: no answer is a 5xx, every status
is one the schema documents, and every answer has the documented media type and body.

Generated from the schema the site serves, through the WSGI application in this process,
against the seeded world of conftest.py (each request in a savepoint that is rolled back).
Each operation gets its explicit examples, the coverage phase's boundary and type-confusion
cases and a few random ones, as a manager of project A; a case whose ids meet a 404 is
sent again naming the seeded objects, so that its body reaches the code behind the 404.
The annotating endpoints get the same as an annotator.
"""

from __future__ import annotations

import functools

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from hypothesis import HealthCheck, settings
from rest_framework.throttling import SimpleRateThrottle

from rankwise.wsgi import application

from . import fuzzing
from .conftest import rolled_back

pytestmark = pytest.mark.django_db
MAX_EXAMPLES = 6

schema = schemathesis.openapi.from_wsgi("/api/schema/", application,
                                        config=fuzzing.config(max_examples=MAX_EXAMPLES))


@pytest.fixture(scope="module")
def in_the_test_transaction(world):
    """Requests run inside the test's transaction, as with Django's test client: the
    handler's per-request connection clean-up would close the connection mid-transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    rates = SimpleRateThrottle.THROTTLE_RATES
    # Hundreds of requests a minute from one user: the throttles are not what is tested.
    SimpleRateThrottle.THROTTLE_RATES = {scope: "1000000/min" for scope in rates}
    yield world
    SimpleRateThrottle.THROTTLE_RATES = rates
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def send(case, world, role: str) -> None:
    headers = {"Authorization": f"Token {world.tokens[role]}"}
    response = rolled_back(lambda: case.call_and_validate(headers=headers, checks=fuzzing.CHECKS))
    seeded = fuzzing.seeded_ids(case.operation.path, world.a, annotator=role == "annotator")
    if seeded and response.status_code == 404:
        case.path_parameters = {**(case.path_parameters or {}), **seeded}
        rolled_back(lambda: case.call_and_validate(headers=headers, checks=fuzzing.CHECKS))


FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck))


@schema.parametrize()
@FUZZ
def test_every_operation_as_a_manager(case, in_the_test_transaction):
    send(case, in_the_test_transaction, "manager")


@schema.include(path_regex=fuzzing.ANNOTATING).parametrize()
@FUZZ
def test_the_annotating_endpoints_as_an_annotator(case, in_the_test_transaction):
    send(case, in_the_test_transaction, "annotator")


def test_a_form_cannot_store_null_settings(in_the_test_transaction, client):
    """Found by the fuzzing above: a form's ``settings=null`` passed as JSON null and
    reached the NOT NULL column (500)."""
    world = in_the_test_transaction
    client.force_login(world.users["manager"])
    form = encode_multipart(BOUNDARY, {"name": "n", "responses_per_item": 2, "settings": "null"})
    for method, url in [("POST", "/api/v1/projects/"),
                        ("PATCH", f"/api/v1/projects/{world.a.project.pk}/")]:
        answer = rolled_back(functools.partial(client.generic, method, url, form,
                                               content_type=MULTIPART_CONTENT))
        assert answer.status_code == 400, answer.content
        assert answer.json()["errors"] == [{"field": "settings",
                                            "message": "This field may not be null."}]
