"""Token authentication on the annotating endpoints: the same rules as knox everywhere."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from annotation.models import Assignment

from .conftest import add_items


@pytest.fixture
def setup(make_project, make_annotators):
    project = make_project()
    add_items(project, 3)
    (user,) = make_annotators(project, 1)
    return project, user


def _next(project, token):
    client = APIClient()
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get(f"/api/v1/projects/{project.pk}/next/")


def test_a_token_from_the_login_endpoint_works(setup):
    project, user = setup
    login = APIClient().post("/api/v1/auth/token/",
                             {"username": user.username, "password": "correct-horse-battery-staple"},
                             format="json")
    assert login.status_code == 201, login.content
    answer = _next(project, login.json()["token"])
    assert answer.status_code == 200
    assert Assignment.objects.get(pk=answer.json()["assignment"]).annotator == user


@pytest.mark.parametrize("token", ["nope", "0" * 64, "ünïcode", "x" * 400])
def test_wrong_tokens_are_refused(setup, token):
    project, _user = setup
    answer = _next(project, token)
    assert answer.status_code == 401
    assert answer.json()["detail"] == "Invalid token."


def test_a_token_with_the_right_key_but_wrong_secret_is_refused(setup):
    project, user = setup
    _instance, token = AuthToken.objects.create(user=user)
    forged = token[:15] + ("0" if token[15] != "0" else "1") + token[16:]
    assert _next(project, forged).status_code == 401
    assert _next(project, token).status_code == 200


def test_expired_tokens_are_refused_and_deleted(setup):
    project, user = setup
    instance, token = AuthToken.objects.create(user=user, expiry=timedelta(hours=1))
    AuthToken.objects.filter(pk=instance.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    assert _next(project, token).status_code == 401
    assert not AuthToken.objects.filter(pk=instance.pk).exists()


def test_revoked_tokens_and_inactive_users_are_refused(setup):
    project, user = setup
    _instance, token = AuthToken.objects.create(user=user)
    assert _next(project, token).status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.delete("/api/v1/auth/token/").status_code == 204
    assert _next(project, token).status_code == 401
    _instance, token = AuthToken.objects.create(user=user)
    user.is_active = False
    user.save()
    answer = _next(project, token)
    assert answer.status_code == 401
    assert answer.json()["detail"] == "User inactive or deleted."


def test_no_token_is_unauthenticated(setup):
    project, _user = setup
    assert _next(project, None).status_code in (401, 403)


def test_the_openapi_schema_documents_the_annotating_endpoints():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, method in (("/api/v1/projects/{id}/next/", "get"),
                         ("/api/v1/assignments/{id}/submit/", "post"),
                         ("/api/v1/assignments/{id}/skip/", "post")):
        operation = schema["paths"][path][method]
        assert {"knoxApiToken": []} in operation["security"]
    assert "knoxApiToken" in schema["components"]["securitySchemes"]
    next_answer = schema["paths"]["/api/v1/projects/{id}/next/"]["get"]["responses"]
    assert {code for code in next_answer if code < "300"} == {"200", "204"}
    assert next_answer["403"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"}
