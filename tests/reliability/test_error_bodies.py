"""Every error under /api/ is the JSON error body, whoever answers it: the URL resolver
(404), DRF (405, 429), Django's request limits (413), the CSRF check (403), django-axes
(429) and a crash (500). Pages keep Django's HTML answers."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.test import Client, RequestFactory
from rest_framework.test import APIClient
from rest_framework.throttling import BaseThrottle

from rankwise import http_errors
from tests.conftest import PASSWORD

from .conftest import error_body

TOKEN_URL = "/api/v1/auth/token/"


def is_html(response) -> bool:
    return response["Content-Type"].startswith("text/html")


# --- 404 and 405 ------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/", "/api/v1/", "/api/v1/nothing-here/",
                                  "/api/v2/projects/", "/api/v1/projects/abc/",
                                  "/api/v1/projects/1/nothing/", "/api/v1/assignments/"])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_api_paths_are_json_404s(client_for, make_user, path, method):
    answer = getattr(client_for(make_user("alice")), method)(path)
    assert error_body(answer, 404) == {"detail": "Not found.", "errors": []}


def test_unknown_pages_stay_html(client, make_user):
    client.force_login(make_user("alice"))
    answer = client.get("/no-such-page/")
    assert answer.status_code == 404 and is_html(answer)


@pytest.mark.parametrize("method,path", [("put", "/api/v1/projects/"),
                                         ("delete", "/api/v1/users/"),
                                         ("get", TOKEN_URL),
                                         ("put", "/api/v1/projects/{pk}/")])
def test_a_wrong_method_is_a_json_405(project_with_roles, client_for, method, path):
    project, users = project_with_roles
    answer = getattr(client_for(users["manager"]), method)(path.format(pk=project.pk))
    body = error_body(answer, 405)
    assert method.upper() in body["detail"]


# --- 413 --------------------------------------------------------------------------------

@pytest.mark.parametrize("content_type", ["application/json",
                                          "application/x-www-form-urlencoded"])
@pytest.mark.parametrize("path", ["/api/v1/projects/", TOKEN_URL])
def test_a_body_over_the_request_limit_is_a_json_413(client_for, make_user, settings,
                                                     content_type, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client = client_for(make_user("alice", staff=True))
    data = ('{"name": "' + "x" * 2000 + '", "responses_per_item": 2}'
            if content_type == "application/json" else "name=" + "x" * 2000)
    body = error_body(client.post(path, data, content_type=content_type), 413)
    assert body["code"] == "request_too_large"
    assert "1,000 bytes" in body["detail"]


def test_a_body_within_the_limit_is_read(client_for, make_user, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client = client_for(make_user("alice", staff=True))
    answer = client.post("/api/v1/projects/", {"name": "x", "responses_per_item": 2},
                         format="json")
    assert answer.status_code == 201, answer.content


def test_django_refusing_a_big_request_outside_drf_answers_413_under_api():
    factory = RequestFactory()
    answer = http_errors.bad_request(factory.post("/api/v1/projects/"), RequestDataTooBig())
    assert answer.status_code == 413 and answer["Content-Type"] == "application/json"
    assert http_errors.bad_request(factory.post("/api/v1/x/"), None).status_code == 400
    page = http_errors.bad_request(factory.post("/login/"), RequestDataTooBig())
    assert page.status_code == 400 and is_html(page)


# --- 429 --------------------------------------------------------------------------------

class AlwaysThrottled(BaseThrottle):
    def allow_request(self, request, view):
        return False

    def wait(self):
        return 7


def test_a_throttled_request_is_a_json_429_with_retry_after(project_with_roles, client_for,
                                                            monkeypatch):
    from annotation.api import ProjectListCreateApi

    monkeypatch.setattr(ProjectListCreateApi, "throttle_classes", [AlwaysThrottled])
    _project, users = project_with_roles
    answer = client_for(users["manager"]).get("/api/v1/projects/")
    error_body(answer, 429)
    assert answer["Retry-After"] == "7"


def test_a_token_login_lockout_is_a_json_429_with_retry_after(api_client, make_user, settings):
    make_user("alice")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        error_body(api_client.post(TOKEN_URL, {"username": "alice", "password": "bad"},
                                   format="json"), 401)
    # The failure that reaches the limit is refused as locked out already.
    error_body(api_client.post(TOKEN_URL, {"username": "alice", "password": "bad"},
                               format="json"), 429)
    answer = api_client.post(TOKEN_URL, {"username": "alice", "password": PASSWORD},
                             format="json")
    body = error_body(answer, 429)
    assert "Too many failed logins" in body["detail"]
    assert answer["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME.total_seconds()))


def test_a_web_login_lockout_stays_a_page(client, make_user, settings):
    make_user("alice")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/login/", {"username": "alice", "password": "bad"})
    answer = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert answer.status_code == 429 and is_html(answer)
    assert answer["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME.total_seconds()))


# --- 403 --------------------------------------------------------------------------------

def test_a_session_request_without_csrf_is_a_json_403(make_user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(make_user("alice", staff=True))
    answer = client.post("/api/v1/projects/", {"name": "x", "responses_per_item": 2},
                         format="json")
    assert "CSRF" in error_body(answer, 403)["detail"]


def test_the_csrf_failure_view_answers_json_under_api_only(settings):
    assert settings.CSRF_FAILURE_VIEW == "rankwise.http_errors.csrf_failure"
    middleware = CsrfViewMiddleware(lambda request: HttpResponse())

    def refused(path):
        request = RequestFactory().post(path)
        return middleware.process_view(request, lambda r: HttpResponse(), (), {})

    answer = refused("/api/v1/anything/")
    body = error_body(answer, 403)
    assert body["detail"].startswith("CSRF failed: ")
    page = refused("/login/")
    assert page.status_code == 403 and is_html(page)


def test_a_permission_denied_outside_drf_is_a_json_403_under_api():
    factory = RequestFactory()
    error_body(http_errors.permission_denied(factory.get("/api/v1/x/"), PermissionDenied()), 403)
    assert is_html(http_errors.permission_denied(factory.get("/x/"), PermissionDenied()))


# --- 500 --------------------------------------------------------------------------------

def crash(**kwargs):
    raise RuntimeError("boom")


def test_a_crash_under_api_is_a_json_500(project_with_roles, monkeypatch):
    from annotation import selectors

    monkeypatch.setattr(selectors, "projects_for", crash)
    _project, users = project_with_roles
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(users["manager"])
    answer = client.get("/api/v1/projects/")
    assert error_body(answer, 500) == {"detail": "Server error.", "errors": []}
    assert b"boom" not in answer.content


def test_a_crash_on_a_page_stays_html(project_with_roles, monkeypatch):
    from annotation import selectors

    monkeypatch.setattr(selectors, "projects_for", crash)
    _project, users = project_with_roles
    client = Client(raise_request_exception=False)
    client.force_login(users["manager"])
    answer = client.get("/")
    assert answer.status_code == 500 and is_html(answer)
