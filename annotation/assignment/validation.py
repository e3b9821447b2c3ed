"""Checks on a submitted ranking, and ranking comparison. Plain Python, no Django.

A ranking is a list of tiers, best first; a tier is a list of response ids that are tied.
Every response of the item appears exactly once. Errors come back as
``[{"field": ..., "message": ...}]`` so the API can answer with the contract's 400 body.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rankwise.text import text_problem

from ..project_settings import DEFAULT_FLAGS

RATIONALE_MAX_CHARS = 5000
DURATION_MAX_MS = 2**31 - 1  # the column is a 32-bit integer on PostgreSQL
STRENGTHS = (1, 2, 3)


@dataclass
class Submission:
    ranking: list[list[int]]
    strength: int | None = None
    flags: list[str] = field(default_factory=list)
    response_flags: dict[str, list[str]] = field(default_factory=dict)
    rationale: str = ""
    duration_ms: int | None = None


class InvalidSubmission(Exception):
    def __init__(self, errors: list[dict[str, str]]):
        super().__init__(errors[0]["message"] if errors else "Invalid submission.")
        self.errors = errors


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_ranking(ranking: Any, response_ids: Iterable[int]) -> list[dict[str, str]]:
    expected = set(response_ids)
    errors: list[dict[str, str]] = []

    def error(message: str) -> None:
        errors.append({"field": "ranking", "message": message})

    if not isinstance(ranking, list) or not ranking:
        error("ranking must be a non-empty list of tiers (lists of response ids), best first.")
        return errors
    seen: set[int] = set()
    for t, tier in enumerate(ranking):
        if not isinstance(tier, list):
            error(f"ranking[{t}] must be a list of response ids.")
            continue
        if not tier:
            error(f"ranking[{t}] is an empty tier; leave empty tiers out.")
            continue
        for r, response_id in enumerate(tier):
            if not _is_int(response_id):
                error(f"ranking[{t}][{r}] must be a response id (an integer), not {response_id!r}.")
            elif response_id not in expected:
                error(f"response {response_id} is not one of this item's responses.")
            elif response_id in seen:
                error(f"response {response_id} appears more than once; rank each response once.")
            else:
                seen.add(response_id)
    missing = sorted(expected - seen)
    if missing and not errors:
        listed = ", ".join(str(m) for m in missing)
        error(f"response(s) {listed} missing; rank every response of the item exactly once.")
    return errors


def check_submission(
    *,
    ranking: Any,
    response_ids: Sequence[int],
    strength: Any = None,
    flags: Any = None,
    rationale: Any = None,
    duration_ms: Any = None,
    allowed_flags: Sequence[str] = DEFAULT_FLAGS,
) -> Submission:
    """The cleaned submission, or InvalidSubmission naming every problem."""
    errors = check_ranking(ranking, response_ids)
    k = len(response_ids)
    if strength is not None:
        if k != 2:
            errors.append({"field": "strength", "message": (
                f"strength is only for items with two responses; this one has {k}.")})
        elif not _is_int(strength) or strength not in STRENGTHS:
            errors.append({"field": "strength", "message": "strength must be 1, 2 or 3."})
        elif not errors and len(ranking) == 1:
            errors.append({"field": "strength", "message": "strength cannot go with a tie."})
    clean_flags, response_flags = check_flags(flags, response_ids=response_ids,
                                              allowed_flags=allowed_flags, errors=errors)
    if rationale is None:
        rationale = ""
    if not isinstance(rationale, str):
        errors.append({"field": "rationale", "message": "rationale must be a string."})
    elif len(rationale) > RATIONALE_MAX_CHARS:
        errors.append({"field": "rationale", "message": (
            f"rationale is {len(rationale)} characters; at most {RATIONALE_MAX_CHARS}.")})
    elif problem := text_problem(rationale):
        errors.append({"field": "rationale", "message": f"rationale {problem}"})
    if duration_ms is not None and (
        not _is_int(duration_ms) or not 0 <= duration_ms <= DURATION_MAX_MS
    ):
        errors.append({"field": "duration_ms", "message": (
            "duration_ms must be a whole number of milliseconds, 0 or more.")})
    if errors:
        raise InvalidSubmission(errors)
    return Submission(
        ranking=[list(tier) for tier in ranking], strength=strength, flags=clean_flags,
        response_flags=response_flags, rationale=rationale, duration_ms=duration_ms,
    )


TASK_FLAGS = "task"  # the key of the task's own flags when ``flags`` is an object


def check_flags(flags: Any, *, response_ids: Iterable[int], allowed_flags: Sequence[str],
                errors: list[dict[str, str]]) -> tuple[list[str], dict[str, list[str]]]:
    """The task's flags and each response's, from ``flags`` as a list (the task's flags)
    or an object ``{"task": [...], "<response id>": [...]}``; problems go to ``errors``.
    Responses without flags are left out of the second value."""
    if flags is None:
        return [], {}
    if isinstance(flags, list):
        return _flag_list(flags, "flags", allowed_flags, errors), {}
    if not isinstance(flags, dict):
        errors.append({"field": "flags", "message": (
            'flags must be a list of strings, or an object {"task": [...], '
            '"<response id>": [...]}.')})
        return [], {}
    known = {str(rid) for rid in response_ids}
    task: list[str] = []
    per_response: dict[str, list[str]] = {}
    for key, value in flags.items():
        if key == TASK_FLAGS:
            task = _flag_list(value, "flags.task", allowed_flags, errors)
        elif key not in known:
            errors.append({"field": "flags", "message": (
                f"{key!r} is not one of this item's response ids; use \"task\" for the "
                "task's own flags.")})
        elif clean := _flag_list(value, f"flags[{key}]", allowed_flags, errors):
            per_response[key] = clean
    return task, per_response


def _flag_list(flags: Any, where: str, allowed_flags: Sequence[str],
               errors: list[dict[str, str]]) -> list[str]:
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        errors.append({"field": "flags", "message": f"{where} must be a list of strings."})
        return []
    clean: list[str] = []
    for flag in flags:
        if flag not in allowed_flags:
            allowed = ", ".join(allowed_flags)
            errors.append({"field": "flags", "message": (
                f"unknown flag {flag!r} in {where}; this project allows: {allowed}.")})
        elif flag not in clean:
            clean.append(flag)
    return clean


def same_flags(body_flags: Any, flags: Iterable[str], response_flags: dict) -> bool:
    """Whether ``flags`` as a body sent them (list or object) name the same task and
    response flags (each as a set) as the stored ones; a malformed value never does."""
    problems: list[dict[str, str]] = []
    ids = [int(k) for k in response_flags if str(k).isdigit()]
    if isinstance(body_flags, dict):
        ids += [int(k) for k in body_flags if isinstance(k, str) and k.isdigit()]
    task, per_response = check_flags(body_flags, response_ids=ids,
                                     allowed_flags=_everything, errors=problems)
    if problems:
        return False
    stored = {str(k): set(v) for k, v in (response_flags or {}).items() if v}
    return set(task) == set(flags) and {k: set(v) for k, v in per_response.items()} == stored


class _Everything:
    """Any flag is allowed: comparing a body with what was stored, not checking it."""

    def __contains__(self, _flag: object) -> bool:
        return True

    def __iter__(self):
        return iter(())


_everything: Any = _Everything()


def normalise(ranking: Iterable[Iterable[int]]) -> list[list[int]]:
    """Tiers with their ids sorted: order inside a tier carries no meaning."""
    return [sorted(tier) for tier in ranking]


def same_ranking(a: Iterable[Iterable[int]], b: Iterable[Iterable[int]]) -> bool:
    return normalise(a) == normalise(b)


def qualification_status(*, correct: Sequence[bool], required: int,
                         min_accuracy: float) -> tuple[bool, float | None]:
    """Whether a practice round is passed, judged on the most recent ``required`` answers
    (oldest first in ``correct``), and the accuracy over those answers."""
    if required <= 0:
        return True, None
    window = list(correct)[-required:]
    if not window:
        return False, None
    accuracy = sum(window) / len(window)
    return len(window) >= required and accuracy >= min_accuracy, accuracy
