"""The site's error pages: 403, 404 and 429 (the login lockout) are pages in the site's
layout, with its navigation, for people; under /api/ the same failures keep the JSON error
body. The login page warns before the last attempt and keeps the username; /favicon.ico
answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory

from rankwise import http_errors
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NAV = 'class="topbar"'


def is_html(response) -> bool:
    return response["Content-Type"].startswith("text/html")


def test_an_unknown_page_is_the_styled_404_with_navigation(client, make_user):
    anonymous = client.get("/no/such/page/")
    assert anonymous.status_code == 404 and is_html(anonymous)
    body = anonymous.content.decode()
    assert NAV in body and "Page not found" in body and "rankwise.css" in body
    assert "/no/such/page/" in body
    client.force_login(make_user("alice"))
    signed_in = client.get("/projects/999999/").content.decode()
    assert "Page not found" in signed_in and "My projects" in signed_in and "Log out alice" in signed_in


def test_the_404_does_not_echo_markup_from_the_path(client):
    body = client.get("/<script>alert(1)</script>/").content.decode()
    assert "<script>alert(1)</script>" not in body


def test_api_failures_keep_their_json_bodies(client, make_user):
    client.force_login(make_user("alice"))
    answer = client.get("/api/v1/no/such/thing/")
    assert answer.status_code == 404 and answer.json() == {"detail": "Not found.", "errors": []}
    refused = http_errors.permission_denied(RequestFactory().get("/api/v1/x/"), PermissionDenied())
    assert refused.status_code == 403 and refused["Content-Type"] == "application/json"


def test_a_permission_denied_page_is_the_styled_403(make_user):
    request = RequestFactory().get("/projects/1/dashboard/")
    request.user = make_user("alice")
    page = http_errors.permission_denied(request, PermissionDenied())
    body = page.content.decode()
    assert page.status_code == 403 and NAV in body and "You may not do this" in body
    assert "Log out alice" in body


def test_a_page_refused_to_an_annotator_is_the_styled_403(project_with_roles):
    project, users = project_with_roles
    client = Client()
    client.force_login(users["annotator"])
    page = client.get(f"/projects/{project.pk}/dashboard/")
    assert page.status_code == 403 and NAV in page.content.decode()


def fail(client, username="alice", times=1):
    response = None
    for _ in range(times):
        response = client.post("/login/", {"username": username, "password": "wrong"})
    return response


def test_the_login_page_keeps_the_username_and_warns_before_the_last_attempt(client, make_user,
                                                                            settings):
    make_user("alice")
    assert settings.AXES_FAILURE_LIMIT == 5
    first = fail(client)
    body = first.content.decode()
    assert first.status_code == 200 and "Wrong username or password." in body
    assert 'value="alice"' in body
    assert 'id="attempts-warning"' not in body
    assert "2 attempts left before a 15-minute lock." in fail(client, times=2).content.decode()
    last = fail(client).content.decode()
    assert "1 attempt left before a 15-minute lock." in last and 'value="alice"' in last


def test_a_locked_out_login_shows_the_lockout_page_with_its_duration(client, make_user, settings):
    make_user("alice")
    locked = fail(client, times=settings.AXES_FAILURE_LIMIT)
    assert locked.status_code == 429 and is_html(locked)
    body = locked.content.decode()
    assert "Too many failed logins" in body and NAV in body
    assert "15 minutes" in body and 'id="lock-duration"' in body
    again = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert again.status_code == 429 and "15 minutes" in again.content.decode()
    assert again["Retry-After"] == "900"


def test_the_lock_length_follows_the_setting(client, make_user, settings):
    settings.AXES_COOLOFF_TIME = timedelta(minutes=1)
    make_user("alice")
    body = fail(client, times=settings.AXES_FAILURE_LIMIT).content.decode()
    assert "1 minute<" in body


def test_the_favicon_answers_and_pages_link_it(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(icon.streaming_content)
    page = client.get("/login/").content.decode()
    assert 'rel="icon"' in page and "favicon.svg" in page


def test_the_429_page_says_how_long_to_wait(rf):
    from django.template.loader import render_to_string

    body = render_to_string("429.html", {"minutes": 2}, request=rf.get("/x/"))
    assert "Too many requests" in body and "Wait 2 minutes" in body and NAV in body
