"""A user outside a project learns nothing from its ids: on every route that takes an id,
an existing object of someone else's project and a missing one get the same 404 body."""

from __future__ import annotations

import itertools

import pytest

from .conftest import error_body, fill, methods_of, routes, with_params

MISSING = 2**62  # a valid id that no row has
ROUTES = [(route, view) for route, view in routes("api/") if with_params(route)]


def existing(world, route: str, name: str):
    """The id of an object that exists, in the project the outsider is not a member of."""
    project = world["project"]
    if name == "job":
        return world["job"].pk
    if name == "member_id":
        return project.memberships.first().pk
    if name == "version" and "/reward-models/" in route:
        from training.models import ModelVersion

        return ModelVersion.objects.get_or_create(project=project, kind="reward", version=1,
                                                  defaults={"artifact_path": "reward_models/x/1"})[0].version
    if name == "version":
        from training.models import ModelVersion

        return ModelVersion.objects.get_or_create(project=project, kind="policy", version=1,
                                                  defaults={"artifact_path": "policies/x/1"})[0].version
    if route.startswith("api/v1/projects/"):
        return project.pk
    if route.startswith("api/v1/assignments/"):
        return world["task"].assignment.pk
    if route.startswith("api/v1/annotations/"):
        from annotation.assignment import services as engine

        task = world["task"]
        engine.submit_annotation(assignment_id=task.assignment.pk,
                                 annotator=task.assignment.annotator,
                                 ranking=[[r["id"]] for r in task.responses])
        return task.assignment.annotation.pk
    if route.startswith("api/v1/items/"):
        return project.items.first().pk
    if route.startswith("api/v1/training-runs/"):
        from training.models import TrainingRun

        return TrainingRun.objects.create(project=project).pk
    if route.startswith(("api/v1/judges/", "api/v1/judge-runs/")):
        from judges.models import Judge, JudgeRun

        judge = Judge.objects.get_or_create(project=project, name="judge",
                                            defaults={"backend": "reward_model"})[0]
        if route.startswith("api/v1/judges/"):
            return judge.pk
        return JudgeRun.objects.create(judge=judge, constitution_version=1).pk
    raise AssertionError(f"say how to make an existing {name} for {route} in existing()")


def cases():
    for route, view in ROUTES:
        for method in methods_of(view):
            yield pytest.param(route, method, id=f"{method} {route}")


def test_every_route_with_an_id_is_covered():
    assert len(ROUTES) >= 12


@pytest.mark.parametrize("route,method", list(cases()))
def test_an_outsider_gets_the_same_404_for_existing_and_missing_ids(world, client_for,
                                                                   route, method):
    client = client_for(world["users"]["outsider"])
    names = with_params(route)
    choices = {name: (existing(world, route, name),
                      world["missing_uuid"] if name == "job" else MISSING) for name in names}
    bodies = {}
    for picked in itertools.product(*(choices[name] for name in names)):
        url = fill(route, dict(zip(names, picked, strict=True)))
        answer = getattr(client, method)(url, {}, format="json")
        bodies[url] = error_body(answer, 404)
    assert len(bodies) == 2 ** len(names)
    assert len({str(body) for body in bodies.values()}) == 1, bodies
