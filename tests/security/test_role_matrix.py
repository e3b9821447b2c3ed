"""Who may do what, on every route of the site, for every kind of caller.

``TABLE`` declares, for each (route, method) of the URL configuration, the least a caller
needs; a route or method that has no entry fails ``test_every_route_has_an_entry``, so a
new endpoint or page cannot ship without saying who may use it. Each entry is then called
by every role of :mod:`.seeds`, on the objects of the callers' own project, of another
project, of a peer, mixed, and (reads) with hostile filters. Beyond the status, every
answer is searched for the sentinels that caller must not see (another project's name,
a peer's rationale and username, a hidden gold item's meta) and, below the reviewer
role, for the keys that carry gold answers or labels.

Each request runs in a savepoint that is rolled back (conftest.py), so every call sees the
same world.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from annotation.permissions import RANK
from tests.reliability.conftest import fill, methods_of, routes, with_params

from .conftest import rolled_back
from .seeds import OWNER, PASSWORD, ROLE_IN, ROLES, USERNAMES, forbidden_for

# The test database (the world of conftest.py lives in it).
pytestmark = pytest.mark.django_db

PUBLIC = "public"  # anyone, signed in or not
SIGNED_IN = "signed in"  # any authenticated user
ANY_MANAGER = "manager of any project"  # staff, or a manager of some project
OWNER_ONLY = "the annotator holding the assignment"
MEMBER = "member"  # any member of the project, whatever the role; staff must join
STAFF = "staff"  # the Django admin
ANNOTATOR, REVIEWER, MANAGER = "annotator", "reviewer", "manager"  # the role in the project

GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")  # a named group of a regex route
EMBEDDED_JSON = re.compile(r'<script[^>]*type="application/json"[^>]*>(.*?)</script>', re.S)
IMPORT_LINE = b'{"prompt": "a fresh prompt", "responses": ["first", "second"]}\n'


@dataclass(frozen=True)
class Rule:
    who: str
    ok: int  # the status of a caller who may
    body: Any = None  # a dict, or a function of the seeded side the URL points at
    kind: str = "json"  # json | ndjson | form | upload
    by_role: dict = field(default_factory=dict)  # statuses that differ by caller (PUBLIC)
    # A page that tells a member whose role is too low 403 (their project is no secret to
    # them) instead of the 404 pages give by default.
    page_refusal: int = 404


TABLE: dict[tuple[str, str], Rule] = {
    # --- the API ---------------------------------------------------------------------------
    ("api/schema/", "get"): Rule(PUBLIC, 200),
    ("api/docs/", "get"): Rule(PUBLIC, 200),
    ("api/v1/auth/token/", "post"): Rule(
        PUBLIC, 201, {"username": USERNAMES["annotator"], "password": PASSWORD}),
    ("api/v1/auth/token/", "delete"): Rule(SIGNED_IN, 204),
    ("api/v1/users/", "post"): Rule(
        ANY_MANAGER, 201, {"username": "fresh-user", "password": "a-long-enough-passphrase"}),
    ("api/v1/projects/", "get"): Rule(SIGNED_IN, 200),
    ("api/v1/projects/", "post"): Rule(
        ANY_MANAGER, 201, {"name": "fresh project", "responses_per_item": 3}),
    ("api/v1/projects/<id:pk>/", "get"): Rule(ANNOTATOR, 200),
    ("api/v1/projects/<id:pk>/", "patch"): Rule(MANAGER, 200, {"overlap": 4}),
    ("api/v1/projects/<id:pk>/members/", "get"): Rule(REVIEWER, 200),
    ("api/v1/projects/<id:pk>/members/", "post"): Rule(
        MANAGER, 201, {"user": "newcomer", "role": "annotator"}),
    ("api/v1/projects/<id:pk>/members/<id:member_id>/", "delete"): Rule(MANAGER, 204),
    ("api/v1/projects/<id:pk>/guidelines/", "get"): Rule(ANNOTATOR, 200),
    ("api/v1/projects/<id:pk>/guidelines/", "post"): Rule(MANAGER, 201, {"text": "Version 2."}),
    ("api/v1/projects/<id:pk>/guidelines/acknowledge/", "post"): Rule(ANNOTATOR, 200, {}),
    ("api/v1/projects/<id:pk>/items/", "get"): Rule(REVIEWER, 200),
    ("api/v1/projects/<id:pk>/items/import/", "post"): Rule(
        MANAGER, 201, IMPORT_LINE, kind="ndjson"),
    ("api/v1/projects/<id:pk>/items/import/<uuid:job>/", "get"): Rule(MANAGER, 200),
    ("api/v1/projects/<id:pk>/next/", "get"): Rule(MEMBER, 200),
    ("api/v1/assignments/<id:pk>/submit/", "post"): Rule(
        OWNER_ONLY, 201, lambda side: {"ranking": [[i] for i in side.leased.display_order],
                                       "rationale": "mine"}),
    ("api/v1/assignments/<id:pk>/skip/", "post"): Rule(OWNER_ONLY, 200, {"reason": "unsure"}),
    ("api/v1/assignments/<id:pk>/feedback/", "get"): Rule(OWNER_ONLY, 200),
    ("api/v1/projects/<id:pk>/reward-models/", "get"): Rule(REVIEWER, 200),
    ("api/v1/projects/<id:pk>/reward-models/train/", "post"): Rule(MANAGER, 202, {}),
    # 409: the seeded projects have no active model, which only callers who may score learn.
    ("api/v1/projects/<id:pk>/reward-models/score/", "post"): Rule(
        ANNOTATOR, 409, {"prompt": "Hi", "responses": ["a", "b"]}),
    # --- the ranking page's feedback: which reward model is live (training/api.py) ---------
    ("api/v1/projects/<id:pk>/reward-models/active/", "get"): Rule(ANNOTATOR, 200),
    # --- reward models: activate / roll back a version by hand (training/api.py) ----------
    ("api/v1/projects/<id:pk>/reward-models/<id:version>/activate/", "post"): Rule(
        MANAGER, 200, {}),
    ("api/v1/training-runs/<id:pk>/", "get"): Rule(REVIEWER, 200),
    # --- judges: constitutions, judges, runs, agreement (judges/api.py) --------------------
    ("api/v1/projects/<id:pk>/constitution/", "get"): Rule(ANNOTATOR, 200),
    ("api/v1/projects/<id:pk>/constitution/", "put"): Rule(
        MANAGER, 200, {"principles": [{"name": "kind", "question": "Which is kinder?"}]}),
    ("api/v1/projects/<id:pk>/judges/", "get"): Rule(MANAGER, 200),
    ("api/v1/projects/<id:pk>/judges/", "post"): Rule(
        MANAGER, 201, {"name": "fresh judge", "backend": "reward_model"}),
    ("api/v1/judges/<id:pk>/runs/", "post"): Rule(MANAGER, 202, {"limit": 1}),
    # 400 naming backend: the seeded judge is a reward model, which cannot rewrite.
    ("api/v1/judges/<id:pk>/revisions/", "post"): Rule(MANAGER, 400, {"dry_run": True}),
    ("api/v1/judges/<id:pk>/agreement/", "get"): Rule(REVIEWER, 200),
    ("api/v1/projects/<id:pk>/judges/trust/", "get"): Rule(REVIEWER, 200),
    ("api/v1/judge-runs/<id:pk>/", "get"): Rule(REVIEWER, 200),
    # 409: the seeded run failed, which only callers who may cancel it learn.
    ("api/v1/judge-runs/<id:pk>/cancel/", "post"): Rule(MANAGER, 409, {}),
    ("api/v1/projects/<id:pk>/policies/", "get"): Rule(REVIEWER, 200),
    ("api/v1/projects/<id:pk>/policies/train/", "post"): Rule(MANAGER, 202, {}),
    # 409: the seeded projects have no active policy, which only callers who may use one learn.
    ("api/v1/projects/<id:pk>/policies/generate/", "post"): Rule(REVIEWER, 409, {"prompt": "Hi"}),
    ("api/v1/projects/<id:pk>/policies/candidates/", "post"): Rule(MANAGER, 409, {}),
    ("api/v1/projects/<id:pk>/policies/<id:version>/comparison/", "get"): Rule(REVIEWER, 200),
    ("api/v1/projects/<id:pk>/agreement/", "get"): Rule(REVIEWER, 200),
    ("api/v1/projects/<id:pk>/annotators/", "get"): Rule(REVIEWER, 200),
    ("api/v1/projects/<id:pk>/progress/", "get"): Rule(REVIEWER, 200),
    ("api/v1/projects/<id:pk>/review-queue/", "get"): Rule(REVIEWER, 200),
    ("api/v1/projects/<id:pk>/consensus/", "post"): Rule(MANAGER, 202, {}),
    ("api/v1/projects/<id:pk>/members/<id:member_id>/", "patch"): Rule(
        MANAGER, 200, {"status": "paused", "reason": "checking their labels"}),
    ("api/v1/projects/<id:pk>/webhooks/", "get"): Rule(MANAGER, 200),
    ("api/v1/projects/<id:pk>/webhooks/", "post"): Rule(MANAGER, 201, {
        "url": "https://hooks.example.com/in", "secret": "a-secret-of-sufficient-length",
        "events": ["snapshot.ready"]}),
    ("api/v1/projects/<id:pk>/webhooks/<id:hook_id>/", "get"): Rule(MANAGER, 200),
    ("api/v1/projects/<id:pk>/webhooks/<id:hook_id>/", "delete"): Rule(MANAGER, 204),
    ("api/v1/projects/<id:pk>/webhooks/<id:hook_id>/deliveries/", "get"): Rule(MANAGER, 200),
    ("api/v1/projects/<id:pk>/webhooks/<id:hook_id>/test/", "post"): Rule(MANAGER, 202, {}),
    ("api/v1/projects/<id:pk>/export/", "get"): Rule(REVIEWER, 200),
    ("api/v1/projects/<id:pk>/export/count/", "get"): Rule(REVIEWER, 200),
    ("api/v1/projects/<id:pk>/snapshots/", "get"): Rule(REVIEWER, 200),
    ("api/v1/projects/<id:pk>/snapshots/", "post"): Rule(MANAGER, 202, {"format": "trl"}),
    ("api/v1/projects/<id:pk>/snapshots/<uuid:snapshot>/", "get"): Rule(REVIEWER, 200),
    # 409: the seeded snapshot is still queued, which only callers who may download learn.
    ("api/v1/projects/<id:pk>/snapshots/<uuid:snapshot>/download/", "get"): Rule(REVIEWER, 409),
    ("api/v1/items/<id:pk>/", "get"): Rule(REVIEWER, 200),
    ("api/v1/items/<id:pk>/review/", "post"): Rule(
        REVIEWER, 201, lambda side: {"decision": "rank", "ranking": [
            list(side.gold.responses.values_list("pk", flat=True))], "note": "all equal"}),
    # --- pages -------------------------------------------------------------------------------
    ("healthz", "get"): Rule(PUBLIC, 200),
    # --- import page and polish: the site icon (the login page keeps its entries above) ---
    ("favicon.ico", "get"): Rule(PUBLIC, 200),
    ("", "get"): Rule(SIGNED_IN, 200),
    ("login/", "get"): Rule(PUBLIC, 302, by_role={"anonymous": 200}),
    ("login/", "post"): Rule(
        PUBLIC, 302, {"username": USERNAMES["annotator"], "password": PASSWORD}, kind="form"),
    ("login/", "put"): Rule(PUBLIC, 302, by_role={"anonymous": 200}),
    ("logout/", "post"): Rule(PUBLIC, 302, {}, kind="form"),
    ("projects/<id:pk>/", "get"): Rule(ANNOTATOR, 200),
    ("projects/<id:pk>/guidelines/", "get"): Rule(ANNOTATOR, 200),
    ("projects/<id:pk>/guidelines/", "post"): Rule(ANNOTATOR, 302, {}, kind="form"),
    ("projects/<id:pk>/import/", "get"): Rule(MANAGER, 200),
    ("projects/<id:pk>/import/", "post"): Rule(MANAGER, 200, IMPORT_LINE, kind="upload"),
    ("projects/<id:pk>/annotate/", "get"): Rule(ANNOTATOR, 200),
    ("projects/<id:pk>/models/", "get"): Rule(REVIEWER, 200),
    ("projects/<id:pk>/dashboard/", "get"): Rule(REVIEWER, 200, page_refusal=403),
    ("projects/<id:pk>/review/", "get"): Rule(REVIEWER, 200, page_refusal=403),
    ("projects/<id:pk>/export/", "get"): Rule(MANAGER, 200, page_refusal=403),
    ("projects/<id:pk>/models/train/", "post"): Rule(MANAGER, 302, {"mode": "head"}, kind="form"),
    ("projects/<id:pk>/policies/", "get"): Rule(REVIEWER, 200),
    ("projects/<id:pk>/policies/<id:version>/compare/", "get"): Rule(REVIEWER, 200),
    ("projects/<id:pk>/policies/train/", "post"): Rule(MANAGER, 302, {}, kind="form"),
    ("projects/<id:pk>/policies/candidates/", "post"): Rule(MANAGER, 302, {}, kind="form"),
    ("admin/login/", "get"): Rule(PUBLIC, 200, by_role={"staff": 302}),
    # --- the manager's console (annotation/console) ------------------------------------------
    ("projects/new/", "get"): Rule(ANY_MANAGER, 200),
    ("projects/new/", "post"): Rule(ANY_MANAGER, 303, {
        "name": "fresh project", "description": "", "responses_per_item": 3, "overlap": 2,
        "gold_rate": 0, "lease_seconds": 600, "flags": "harmful\nother"}, kind="form"),
    ("projects/<id:pk>/settings/", "get"): Rule(MANAGER, 200),
    ("projects/<id:pk>/settings/", "post"): Rule(MANAGER, 303, lambda side: {
        "name": side.project.name, "description": "", "overlap": 4, "gold_rate": 0.1,
        "responses_per_item": side.project.responses_per_item, "lease_seconds": 900,
        "flags": "harmful\nother", "quality__min_labels": "5"}, kind="form"),
    ("projects/<id:pk>/members/", "get"): Rule(MANAGER, 200),
    ("projects/<id:pk>/members/", "post"): Rule(
        MANAGER, 303, {"username": USERNAMES["other_peer"], "role": "annotator"}, kind="form"),
    ("projects/<id:pk>/members/new-user/", "post"): Rule(MANAGER, 303, {
        "username": "fresh-user", "password": "a-long-enough-passphrase", "email": "",
        "role": "annotator"}, kind="form"),
    ("projects/<id:pk>/members/<id:member_id>/role/", "post"): Rule(
        MANAGER, 303, {"role": "reviewer"}, kind="form"),
    ("projects/<id:pk>/members/<id:member_id>/status/", "post"): Rule(
        MANAGER, 303, {"status": "paused", "reason": "checking labels"}, kind="form"),
    ("projects/<id:pk>/members/<id:member_id>/remove/", "post"): Rule(MANAGER, 303, {},
                                                                      kind="form"),
    ("projects/<id:pk>/guidelines/edit/", "get"): Rule(MANAGER, 200),
    ("projects/<id:pk>/guidelines/edit/", "post"): Rule(MANAGER, 303, {"text": "Version 2."},
                                                        kind="form"),
    ("projects/<id:pk>/guidelines/preview/", "post"): Rule(MANAGER, 200, {"text": "**Bold**"},
                                                           kind="form"),
    # --- annotator progress, own labels and revisions (annotation/assignment/history_api.py) --
    ("api/v1/projects/<id:pk>/my-progress/", "get"): Rule(ANNOTATOR, 200),
    ("api/v1/projects/<id:pk>/my-labels/", "get"): Rule(ANNOTATOR, 200),
    ("api/v1/annotations/<id:pk>/", "get"): Rule(OWNER_ONLY, 200),
    ("api/v1/annotations/<id:pk>/revise/", "post"): Rule(
        OWNER_ONLY, 201, lambda side: {"ranking": [[i] for i in side.submitted.display_order],
                                       "flags": {"task": ["other"]}}),
    ("projects/<id:pk>/my-labels/", "get"): Rule(ANNOTATOR, 200),
    # --- the item browser (annotation/browse): reviewers and managers; annotators get 404 ---
    # <item_id> is the side's hidden gold item; "mixed" puts project B's item under A: 404.
    ("projects/<id:pk>/items/", "get"): Rule(REVIEWER, 200),
    ("projects/<id:pk>/items/<id:item_id>/", "get"): Rule(REVIEWER, 200),
    # --- the judges console (judges/views.py): managers only ----------------------------------
    ("projects/<id:pk>/constitution/", "get"): Rule(MANAGER, 200),
    ("projects/<id:pk>/constitution/", "post"): Rule(MANAGER, 303, {
        "rows": "1", "p-0-name": "kind", "p-0-question": "Which is kinder?"}, kind="form"),
    ("projects/<id:pk>/judges/", "get"): Rule(MANAGER, 200),
    ("projects/<id:pk>/judges/", "post"): Rule(MANAGER, 303, {
        "name": "fresh judge", "backend": "reward_model", "principles": "sample", "seed": 0},
        kind="form"),
    ("projects/<id:pk>/judges/<id:judge_id>/run/", "post"): Rule(
        MANAGER, 303, {"items": "all", "limit": 1, "action": "start"}, kind="form"),
    # 400: the seeded judge is a reward model, which cannot rewrite responses.
    ("projects/<id:pk>/judges/<id:judge_id>/revise/", "post"): Rule(
        MANAGER, 400, {"items": "all", "rounds": 1, "action": "estimate"}, kind="form"),
    ("projects/<id:pk>/judge-runs/<id:run_id>/", "get"): Rule(MANAGER, 200),
    # 409: the seeded run has failed already.
    ("projects/<id:pk>/judge-runs/<id:run_id>/cancel/", "post"): Rule(MANAGER, 409, {},
                                                                      kind="form"),
}
# Every other admin route: the admin site's own staff check guards them all alike.
PREFIXES = {"admin/": Rule(STAFF, 200)}
MANAGERS_ANYWHERE = {"manager", "other_manager", "staff"}
NEVER_REVIEWERS = {"anonymous", "annotator", "other_annotator"}
# Keys that carry gold answers or labels: never in an answer to a caller below reviewer.
LABEL_KEYS = {"is_gold", "gold_ranking", "rationale", "annotations", "meta", "consensus",
              "labels", "traceback"}


def is_api(route: str) -> bool:
    return route.startswith("api/")


def covered(route: str) -> bool:
    return any(route.startswith(prefix) for prefix in PREFIXES) and (route, "get") not in TABLE


# --- what each caller should get ----------------------------------------------------------


def expected(rule: Rule, role: str, target: str | None, *, api: bool) -> int:
    """The status for ``role`` on a URL of project ``target`` ("A", "B"; None: a peer's
    assignment, or no project at all)."""
    if rule.who == PUBLIC:
        return rule.by_role.get(role, rule.ok)
    if role == "anonymous":
        return 401 if api else 302
    if rule.who == SIGNED_IN:
        return rule.ok
    if rule.who == ANY_MANAGER:
        return rule.ok if role in MANAGERS_ANYWHERE else 403
    if rule.who == OWNER_ONLY:
        return rule.ok if target is not None and OWNER[target] == role else 404
    role_there = ROLE_IN[target].get(role) if target else None
    if role_there is None:
        return 404
    if rule.who == MEMBER:
        return 403 if role == "staff" else rule.ok
    if RANK[role_there] < RANK[rule.who]:
        # Pages don't say that a project exists to someone who may not open them.
        return 403 if api else rule.page_refusal
    return rule.ok


def variants(route: str, method: str, world) -> list[tuple[str, str, str | None, bool]]:
    """(name, URL, target project, mixed) for each way this route is called."""
    names = with_params(route)
    if not names:
        out = [("plain", "/" + route, None, False)]
    else:
        out = [("own", fill(route, params(route, world, "A")), "A", False),
               ("foreign", fill(route, params(route, world, "B")), "B", False)]
        if route.startswith("api/v1/assignments/"):
            out.append(("peer", fill(route, {"pk": world.a.peer_assignment.pk}), None, False))
        if route.startswith("api/v1/annotations/"):
            peer_label = world.a.peer_assignment.annotation.pk
            out.append(("peer", fill(route, {"pk": peer_label}), None, False))
        if len(names) > 1:
            mixed = {**params(route, world, "B"), "pk": world.a.project.pk}
            out.append(("mixed", fill(route, mixed), "A", True))
    if method == "get":
        hostile = (f"?project={world.b.project.pk}&is_gold=true&annotator="
                   f"{world.users['peer'].pk}&include_gold=true&page_size=1000&status=done")
        name, url, target, _ = out[0]
        out.append(("filters", url + hostile, target, False))
    return out


def params(route: str, world, side_name: str) -> dict:
    side = world.side(side_name)
    if route.startswith("api/v1/assignments/"):
        held = side.submitted if route.endswith("feedback/") else side.leased
        return {"pk": held.pk}
    if route.startswith("api/v1/training-runs/"):
        return {"pk": side.run.pk}
    if route.startswith("api/v1/judges/"):
        return {"pk": side.judge.pk}
    if route.startswith("api/v1/judge-runs/"):
        return {"pk": side.judge_run.pk}
    if route.startswith("api/v1/annotations/"):
        return {"pk": side.submitted.annotation.pk}
    if route.startswith("api/v1/items/"):
        return {"pk": side.gold.pk}
    return {"pk": side.project.pk, "member_id": side.peer_membership.pk, "job": side.job.pk,
            "hook_id": side.webhook.pk, "snapshot": side.snapshot.pk,
            "version": side.policy.version, "item_id": side.gold.pk,
            "judge_id": side.judge.pk, "run_id": side.judge_run.pk}


# --- calling -------------------------------------------------------------------------------


def call(client: Client, method: str, url: str, rule: Rule, side, headers: dict) -> Any:
    body = rule.body(side) if callable(rule.body) else rule.body
    kwargs: dict[str, Any] = {"headers": headers}
    if rule.kind == "json" and body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    elif rule.kind == "ndjson":
        kwargs.update(data=body, content_type="application/x-ndjson")
    elif rule.kind == "form":
        kwargs.update(data=body)
    elif rule.kind == "upload":
        kwargs.update(data={"format": "native", "labels": "",
                            "file": SimpleUploadedFile("items.jsonl", body)})
    # Every call sees the seeded world: what it wrote is rolled back.
    return rolled_back(lambda: getattr(client, method)(url, **kwargs))


def text_of(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def keys_in(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for inner in value.values() for key in keys_in(inner)}
    if isinstance(value, list):
        return {key for inner in value for key in keys_in(inner)}
    return set()


def leaks(role: str, response, text: str, *, below_reviewer: bool) -> list[str]:
    found = [f"sentinel {sentinel!r}" for sentinel in forbidden_for(role) if sentinel in text]
    if below_reviewer:
        if response.get("Content-Type", "").startswith("application/json") and text:
            found += [f"key {key!r}" for key in sorted(keys_in(json.loads(text)) & LABEL_KEYS)]
        elif response.get("Content-Type", "").startswith("text/html"):
            embedded = set()
            for data in EMBEDDED_JSON.findall(text):
                embedded |= keys_in(json.loads(data))
            found += [f"key {key!r} in the page's JSON" for key in sorted(embedded & LABEL_KEYS)]
    return found


def is_below_reviewer(role: str, target: str | None) -> bool:
    if target is None:
        return role in NEVER_REVIEWERS
    role_there = ROLE_IN[target].get(role)
    return role_there is None or RANK[role_there] < RANK[REVIEWER]


class Callers:
    """One test client for every role: a token header for the API, the role's session
    cookie for the pages. (Each Client builds the whole middleware stack, WhiteNoise's
    scan of the static files included, on its first request.)"""

    def __init__(self, world):
        self.client, self.world, self.sessions = Client(), world, {}
        for role in ROLES[1:]:
            self.client.force_login(world.users[role])
            self.sessions[role] = self.client.cookies[settings.SESSION_COOKIE_NAME].value
            self.client.cookies = SimpleCookie()

    def call(self, role: str, method: str, url: str, rule: Rule, side, *, api: bool):
        self.client.cookies = SimpleCookie()
        headers = {}
        if role != "anonymous":
            if api:
                headers["Authorization"] = f"Token {self.world.tokens[role]}"
            else:
                self.client.cookies[settings.SESSION_COOKIE_NAME] = self.sessions[role]
        return call(self.client, method, url, rule, side, headers)


@pytest.fixture(scope="module")
def callers(world):
    return Callers(world)


# --- the tests -----------------------------------------------------------------------------


def test_every_route_has_an_entry():
    found = routes()
    missing = []
    for route, view in found:
        if covered(route):
            continue
        declared = {method for (known, method) in TABLE if known == route}
        if not declared:
            missing.append(f"{route} (no entry)")
        missing += [f"{method.upper()} {route}" for method in methods_of(view)
                    if method not in declared]
    assert not missing, f"say who may call these in TABLE: {missing}"
    stale = sorted({route for route, _ in TABLE} - {route for route, _ in found})
    assert not stale, f"TABLE names routes that no longer exist: {stale}"


def test_the_matrix_is_wide():
    one = SimpleNamespace(pk=1)
    one.annotation = one  # a submitted assignment's label
    side = SimpleNamespace(project=one, leased=one, submitted=one, peer_assignment=one,
                           peer_membership=one, job=one, run=one, gold=one,
                           webhook=one, snapshot=one, policy=SimpleNamespace(version=1),
                           judge=one, judge_run=one)
    world = SimpleNamespace(a=side, b=side, users={"peer": one}, side=lambda name: side)
    calls = sum(len(variants(route, method, world)) for route, method in TABLE)
    admin = [route for route, _ in routes("admin/") if covered(route)]
    checks = len(ROLES) * (calls + len(admin))
    assert len(TABLE) >= 40 and len(admin) >= 100 and checks >= 1500, checks


@pytest.mark.parametrize("route,method", [pytest.param(route, method, id=f"{method} /{route}")
                                          for route, method in TABLE])
def test_role_matrix(world, callers, route, method):
    rule = TABLE[(route, method)]
    api = is_api(route)
    problems = []
    for name, url, target, mixed in variants(route, method, world):
        side = world.side(target or "A")
        for role in ROLES:
            want = expected(rule, role, target, api=api)
            if mixed and want == rule.ok:
                want = 404
            response = callers.call(role, method, url, rule, side, api=api)
            text = text_of(response)
            where = f"{role} {method.upper()} {url} ({name})"
            if response.status_code != want:
                problems.append(f"{where}: {response.status_code}, expected {want}: {text[:200]}")
            if want == 302 and role == "anonymous" and rule.who != PUBLIC:
                if not response["Location"].startswith("/login/"):
                    problems.append(f"{where}: redirected to {response['Location']}")
            if api and response.status_code >= 400:
                body = json.loads(text)
                if not (isinstance(body.get("detail"), str) and isinstance(body.get("errors"),
                                                                              list)):
                    problems.append(f"{where}: not the error body: {text[:200]}")
            problems += [f"{where}: leaks {leak}" for leak in
                         leaks(role, response, text, below_reviewer=is_below_reviewer(role,
                                                                                      target))]
    assert not problems, "\n".join(problems)


def admin_url(route: str, world) -> str:
    values = {"object_id": world.b.project.pk, "content_type_id": 1, "id": world.users["peer"].pk,
              "app_label": "annotation", "url": "no-such-page/"}
    route = GROUP.sub(lambda match: str(values[match.group(1)]), route)
    return fill(route.replace("^", "").replace("$", ""), values)


@pytest.mark.parametrize("role", ROLES)
def test_admin_is_for_staff_only(world, callers, role):
    problems = []
    for route, _view in routes("admin/"):
        if not covered(route):
            continue
        url = admin_url(route, world)
        response = callers.call(role, "get", url, PREFIXES["admin/"], world.a, api=False)
        # Logging out of the admin sends a non-staff caller to its index, which is the same
        # staff check.
        redirected = (response.status_code == 302
                      and response["Location"].split("?")[0] in ("/admin/login/", "/admin/"))
        if role == "staff":
            if response.get("Location", "").startswith("/admin/login/") \
                    or response.status_code >= 500:
                problems.append(f"staff GET {url}: {response.status_code}")
            continue
        if not redirected:
            problems.append(f"{role} GET {url}: {response.status_code}, expected the login")
        problems += [f"{role} GET {url}: leaks {leak}" for leak in
                     leaks(role, response, text_of(response), below_reviewer=True)]
    assert not problems, "\n".join(problems)
