"""Text the database can store. Framework-free: services, validators and import formats
call the same check.

Two kinds of character arrive through JSON escapes and can never be stored: NUL
(``\\u0000``), which PostgreSQL refuses in text and jsonb columns, and a UTF-16 surrogate
half (``\\ud800``-``\\udfff``) without its partner, which has no UTF-8 encoding.
"""

from __future__ import annotations

from typing import Any

NUL_MESSAGE = "contains a NUL character (\\u0000), which cannot be stored."
SURROGATE_MESSAGE = ("contains an unpaired surrogate escape (\\ud800-\\udfff), which is not valid "
                     "Unicode.")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored, as the end of a sentence that names it; else None."""
    if "\x00" in value:
        return NUL_MESSAGE
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATE_MESSAGE
    return None


def json_problem(value: Any, where: str = "") -> tuple[str, str] | None:
    """The first string (key or value) in a JSON-like structure that cannot be stored:
    (where it is, e.g. ``"flags[2]"``, why), else None."""
    stack = [(where, value)]
    while stack:
        here, node = stack.pop()
        if isinstance(node, str):
            problem = text_problem(node)
            if problem:
                return here, problem
        elif isinstance(node, dict):
            for key, item in reversed(list(node.items())):
                inside = f"{here}.{key}" if here else str(key)
                problem = text_problem(key) if isinstance(key, str) else None
                if problem:
                    return here, f"has a key that {problem}"
                stack.append((inside, item))
        elif isinstance(node, list):
            stack.extend((f"{here}[{i}]", item) for i, item in reversed(list(enumerate(node))))
    return None


def storable(value: str) -> str:
    """``value`` without what could never be stored: NUL characters are dropped and
    unpaired surrogates replaced (for text a model wrote, which nobody can resend)."""
    value = value.replace("\x00", "")
    if value.isascii():
        return value
    return value.encode("utf-8", errors="replace").decode("utf-8")
