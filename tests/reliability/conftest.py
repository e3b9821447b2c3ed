"""Fixtures of the reliability tests: a project with a leased task, every route of the site,
and the check that an answer is the contract's JSON error body."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from django.urls import URLResolver, get_resolver

from annotation import services
from annotation.assignment import services as engine
from annotation.models import Guideline, ImportJob, Item, Response

PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def error_body(response, status: int, *, field: str | None = None,
               line: int | None = None) -> dict:
    """The answer is ``status`` with the JSON error body, naming ``field`` or ``line``."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert isinstance(body["detail"], str) and body["detail"], body
    assert isinstance(body["errors"], list), body
    if field is not None:
        assert field in [error.get("field") for error in body["errors"]], body
    if line is not None:
        assert line in [error.get("line") for error in body["errors"]], body
    return body


def routes(prefix: str = "") -> list[tuple[str, type | None]]:
    """(route, view class or None) for every URL pattern of the site under ``prefix``."""
    found = []

    def walk(patterns, above: str) -> None:
        for pattern in patterns:
            route = above + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif route.startswith(prefix):
                found.append((route, getattr(pattern.callback, "view_class", None)))

    walk(get_resolver().url_patterns, "")
    return found


def with_params(route: str) -> list[str]:
    return [name for _converter, name in PARAM.findall(route)]


def fill(route: str, values: dict[str, object]) -> str:
    return "/" + PARAM.sub(lambda match: str(values[match.group(2)]), route)


def methods_of(view_class) -> list[str]:
    """The HTTP methods a DRF view answers (OPTIONS and HEAD aside)."""
    return [m for m in ("get", "post", "put", "patch", "delete")
            if view_class is not None and hasattr(view_class, m)
            and m in view_class.http_method_names]


@pytest.fixture
def world(project_with_roles):
    """The K=2 project of ``project_with_roles`` with a guideline everyone acknowledged,
    two items, a task leased to the annotator and a finished background import."""
    project, users = project_with_roles
    guideline = Guideline.objects.create(project=project, version=1, text="Be kind.",
                                         created_by=users["manager"])
    for user in users.values():
        services.acknowledge_guideline(user=user, guideline=guideline)
    for n in range(2):
        item = Item.objects.create(project=project, prompt=f"prompt {n}", content_hash=f"h{n}")
        Response.objects.bulk_create(
            [Response(item=item, position=p, text=f"answer {p} to {n}") for p in range(2)])
    task = engine.next_task(project_id=project.pk, annotator=users["annotator"])
    job = ImportJob.objects.create(project=project, created_by=users["manager"],
                                   format="native", labels="none", status="done")
    return {"project": project, "users": users, "task": task, "job": job,
            "missing_uuid": uuid.uuid4()}
