"""Ids beyond the 64-bit primary keys are a 404 with the error body on every route (the
annotating endpoints pass ids to raw SQL, where they would overflow), and pages stay
pages."""

from __future__ import annotations

import pytest

from .conftest import error_body, fill, methods_of, routes, with_params

TOO_BIG = [2**63, 2**64 + 5, 10**30, 0]


@pytest.mark.parametrize("number", TOO_BIG)
@pytest.mark.parametrize("method,url", [
    ("get", "/api/v1/projects/{n}/next/"),
    ("post", "/api/v1/assignments/{n}/submit/"),
    ("post", "/api/v1/assignments/{n}/skip/"),
])
def test_the_annotating_endpoints_answer_404(world, client_for, number, method, url):
    client = client_for(world["users"]["annotator"])
    error_body(getattr(client, method)(url.format(n=number), {}, format="json"), 404)


def test_the_largest_id_is_still_an_id(world, client_for):
    client = client_for(world["users"]["annotator"])
    body = error_body(client.get(f"/api/v1/projects/{2**63 - 1}/next/"), 404)
    assert body["detail"] == "No such project."


@pytest.mark.parametrize("number", [2**63, 10**30])
def test_every_api_route_answers_404(world, client_for, number):
    client = client_for(world["users"]["staff"])
    tried = 0
    for route, view in routes("api/"):
        names = with_params(route)
        if not names:
            continue
        params = {name: world["missing_uuid"] if name == "job" else number for name in names}
        for method in methods_of(view):
            answer = getattr(client, method)(fill(route, params), {}, format="json")
            error_body(answer, 404)
            tried += 1
    assert tried >= 12


def test_pages_answer_an_html_404(world, client):
    client.force_login(world["users"]["staff"])
    tried = 0
    for route, _view in routes():
        names = with_params(route)
        if route.startswith(("api/", "admin/")) or not names:
            continue
        answer = client.get(fill(route, {name: 2**64 for name in names}))
        assert answer.status_code in (404, 405), route  # 405: a POST-only page
        assert answer["Content-Type"].startswith("text/html"), route
        tried += 1
    assert tried >= 3
