"""Malformed credentials are refused, never a 500: an ``Authorization`` header with bytes
that are not UTF-8, characters Latin-1 cannot hold, NUL or an overlong token is a 401 with
the error body; a session cookie with such a key is no session."""

from __future__ import annotations

import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from .conftest import error_body

BAD_HEADERS = {
    "latin-1 bytes": "Token \xff\xfe",
    "not latin-1": "Token \u20ac\u4e2d",
    "nul": "Token abc\x00def",
    "control": "Token abc\x01def",
    "overlong": "Token " + "a" * 10_000,
    "punctuation": "Token ';drop table--",
}


def endpoints(world) -> list[tuple[str, str]]:
    """One endpoint per authentication class: knox's (subclassed), the lean token check of
    the annotating loop, and the token endpoint's own."""
    project, assignment = world["project"], world["task"].assignment
    return [
        ("get", "/api/v1/projects/"),
        ("get", f"/api/v1/projects/{project.pk}/items/"),
        ("get", f"/api/v1/projects/{project.pk}/next/"),
        ("post", f"/api/v1/assignments/{assignment.pk}/submit/"),
        ("post", f"/api/v1/assignments/{assignment.pk}/skip/"),
        ("delete", "/api/v1/auth/token/"),
    ]


@pytest.mark.parametrize("header", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
def test_a_malformed_token_header_is_a_401(world, api_client, header):
    for method, url in endpoints(world):
        answer = getattr(api_client, method)(url, HTTP_AUTHORIZATION=header)
        error_body(answer, 401)
        assert answer["WWW-Authenticate"] == "Token", (method, url)


def test_a_real_token_still_works_on_both_classes(world, api_client):
    _instance, token = AuthToken.objects.create(user=world["users"]["annotator"])
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get("/api/v1/projects/").status_code == 200
    assert api_client.get(f"/api/v1/projects/{world['project'].pk}/next/").status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token[:-1]}\xff")
    error_body(api_client.get("/api/v1/projects/"), 401)


def test_the_schema_still_names_the_token_scheme(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert "knoxApiToken" in schema["components"]["securitySchemes"]
    assert {"knoxApiToken": []} in schema["paths"]["/api/v1/projects/"]["get"]["security"]


@pytest.mark.parametrize("key", ['"abcdefgh\\000xyz"', '"abcdefgh\\377\\376"', "ABCDEFGHIJKL",
                                 "x" * 5000])
def test_a_malformed_session_cookie_is_no_session(world, key):
    from django.test import Client

    api = APIClient(raise_request_exception=False)
    error_body(api.get("/api/v1/projects/", HTTP_COOKIE=f"sessionid={key}"), 401)
    page = Client(raise_request_exception=False).get("/", HTTP_COOKIE=f"sessionid={key}")
    assert page.status_code == 302 and page["Location"].startswith("/login/")


def test_a_real_session_still_works(world, client):
    client.force_login(world["users"]["manager"])
    assert client.get("/api/v1/projects/").status_code == 200
