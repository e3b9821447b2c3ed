"""Helpers for import tests: JSON Lines bodies and an import call through the REST API."""

from __future__ import annotations

import gzip
import json

import pytest

from annotation import services
from annotation.models import Annotation, Item, Response


def jsonl(*lines) -> bytes:
    """JSON Lines from objects (encoded) and strings (taken as they are)."""
    return b"\n".join(
        (line if isinstance(line, str) else json.dumps(line)).encode("utf-8") for line in lines
    ) + b"\n"


def gz(data: bytes) -> bytes:
    return gzip.compress(data)


def counts(project) -> dict[str, int]:
    return {
        "items": Item.objects.filter(project=project).count(),
        "responses": Response.objects.filter(item__project=project).count(),
        "annotations": Annotation.objects.filter(project=project).count(),
    }


def url(project, **query) -> str:
    params = "&".join(f"{key}={value}" for key, value in query.items())
    return f"/api/v1/projects/{project.pk}/items/import/" + (f"?{params}" if params else "")


@pytest.fixture
def manager_client(project_with_roles, client_for):
    project, users = project_with_roles
    return client_for(users["manager"])


@pytest.fixture
def post_import(manager_client):
    """POST a body to the import endpoint as the project's manager."""

    def post(project, body: bytes, *, content_type="application/x-ndjson", client=None,
             **query):
        return (client or manager_client).post(url(project, **query), data=body,
                                               content_type=content_type)

    return post


@pytest.fixture
def project_k3(project_with_roles):
    _, users = project_with_roles
    return services.create_project(actor=users["manager"], name="Three", responses_per_item=3)
