"""The text a model reads as the prompt of an item.

One rule for every way a prompt arrives (an item, the score API, the feedback endpoint, a
benchmark reading an hh-rlhf file), so that a model scores what it was trained on. No
Django or torch here.
"""

from __future__ import annotations

from collections.abc import Sequence

ROLE_NAMES = {"user": "User", "assistant": "Assistant", "system": "System"}


def prompt_text(*, prompt: str | None, messages: Sequence[dict] | None) -> str:
    """A plain prompt is used as it is. A conversation is flattened to one paragraph per
    turn, ``"User: ...\\n\\nAssistant: ...\\n\\nUser: ..."`` (``System:`` for system turns).
    """
    if messages:
        turns = []
        for message in messages:
            role = str(message.get("role", "")).strip().lower()
            name = ROLE_NAMES.get(role, role.capitalize() or "User")
            turns.append(f"{name}: {str(message.get('content', '')).strip()}")
        return "\n\n".join(turns)
    return prompt or ""
