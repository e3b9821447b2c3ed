"""API tokens are hashed and revocable; logins are throttled by django-axes."""

import pytest
from knox.models import AuthToken

from tests.conftest import PASSWORD

TOKEN_URL = "/api/v1/auth/token/"


@pytest.fixture
def user(make_user):
    return make_user("alice")


def test_token_is_issued_stored_hashed_and_works(api_client, user):
    response = api_client.post(TOKEN_URL, {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 201
    token = response.json()["token"]
    stored = AuthToken.objects.get(user=user)
    assert token not in stored.digest and stored.digest != token
    assert len(stored.digest) == 128  # SHA-512 hex digest, not the key itself
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get("/api/v1/projects/").status_code == 200


def test_token_revocation(api_client, user):
    token = api_client.post(TOKEN_URL, {"username": "alice", "password": PASSWORD},
                            format="json").json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.delete(TOKEN_URL).status_code == 204
    assert api_client.get("/api/v1/projects/").status_code == 401
    assert not AuthToken.objects.filter(user=user).exists()


def test_wrong_password_is_401_with_error_body(api_client, user):
    response = api_client.post(TOKEN_URL, {"username": "alice", "password": "nope"}, format="json")
    assert response.status_code == 401
    assert response.json()["detail"] == "Wrong username or password."


def test_missing_fields_are_400_naming_the_field(api_client, db):
    response = api_client.post(TOKEN_URL, {"username": "alice"}, format="json")
    assert response.status_code == 400
    assert {"field": "password", "message": "This field is required."} in response.json()["errors"]


def test_api_login_is_throttled_after_repeated_failures(api_client, user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        api_client.post(TOKEN_URL, {"username": "alice", "password": "bad"}, format="json")
    # Even the right password is refused while the lockout lasts.
    response = api_client.post(TOKEN_URL, {"username": "alice", "password": PASSWORD},
                               format="json")
    assert response.status_code == 429
    assert not AuthToken.objects.filter(user=user).exists()


def test_web_login_is_throttled_after_repeated_failures(client, user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/login/", {"username": "alice", "password": "bad"})
    response = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_web_login_works_and_requires_csrf(user):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 403  # no CSRF token
    page = strict.get("/login/")
    token = page.cookies["csrftoken"].value
    response = strict.post("/login/", {"username": "alice", "password": PASSWORD,
                                       "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert strict.get("/").status_code == 200


def test_pages_need_login(client, db):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
