"""What ``test_schema_fuzz.py`` and ``benchmarks/fuzz.py`` share: the Schemathesis
configuration, the checks, the JSON Lines serializer, and the seeded ids that a generated
request is replayed with (random ids mostly meet a 404 before any body is read).
"""

from __future__ import annotations

import json
import re
from typing import Any

import schemathesis
from schemathesis import Config
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# No 5xx; every status documented; the documented media type and body.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
# The annotating loop, fuzzed as the annotator who holds the seeded assignments as well.
ANNOTATING = (r"/(next|submit|skip|feedback)/$|/annotations/\{id\}/(revise/)?$"
              r"|/my-(progress|labels)/$")


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value: Any) -> dict[str, Any]:
    """Import bodies: bytes as generated, text encoded; anything else as one JSON line."""
    if isinstance(value, bytes):
        return {"data": value}
    if isinstance(value, str):
        return {"data": value.encode("utf-8", "surrogatepass")}
    return {"data": (json.dumps(value) + "\n").encode()}


def config(*, max_examples: int, seed: int = 20240601) -> Config:
    """Deterministic generation: the explicit examples, the coverage phase's boundary and
    type-confusion cases, then ``max_examples`` random cases per operation."""
    return Config.from_dict({
        "seed": seed,
        "generation": {"max-examples": max_examples, "deterministic": True,
                       "database": "none", "no-shrink": True},
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True},
                   "fuzzing": {"enabled": True}, "stateful": {"enabled": False}},
    })


def seeded_ids(path: str, side, *, annotator: bool) -> dict[str, Any]:
    """Path parameters naming the seeded objects of one side of the world (an assignment
    only for the annotator who holds it: for anybody else it is a 404 like any other)."""
    names = set(re.findall(r"{(\w+)}", path))
    if not names:
        return {}
    if path.startswith("/api/v1/assignments/"):
        if not annotator:
            return {}
        held = side.submitted if path.endswith("/feedback/") else side.leased
        return {"id": held.pk}
    if path.startswith("/api/v1/annotations/"):
        # The owner's own label (someone else's is a 404 like any other).
        return {"id": side.submitted.annotation.pk} if annotator else {}
    if path.startswith("/api/v1/training-runs/"):
        return {"id": side.run.pk}
    if path.startswith("/api/v1/judges/"):
        return {"id": side.judge.pk}
    if path.startswith("/api/v1/judge-runs/"):
        return {"id": side.judge_run.pk}
    if path.startswith("/api/v1/items/"):
        return {"id": side.gold.pk}
    ids = {"id": side.project.pk, "member_id": side.peer_membership.pk, "job": str(side.job.pk),
           "hook_id": side.webhook.pk, "snapshot": str(side.snapshot.pk),
           "version": side.policy.version}
    return {name: ids[name] for name in names}
