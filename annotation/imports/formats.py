"""Import formats: one JSON Lines line (already decoded) in, one normalised record out.

Framework-free on purpose: no Django here, so every rule of every format is a plain function
that a test can call with a dict.

A record is a prompt (plain text) or a conversation (``messages``), the candidate responses
in the order of the line (their 0-based position), free-form ``meta``, and optionally a gold
ranking and an imported preference, both as tiers of positions, best first.

Formats:

``native``
    ``{"prompt": str | "messages": [{"role", "content"}...], "responses": [str | {"text",
    "model"?, "id"?}...], "meta"?: {...}, "gold"?: {"ranking": [[i...], ...]}}``. Exactly one
    of ``prompt`` and ``messages``; roles are ``system``, ``user`` or ``assistant`` in any
    letter case (stored in lower case, as chat templates expect); as many responses as the
    project's K, each a text (the empty string included), no two alike; a gold ranking uses
    every position exactly once. Unknown keys are errors (a typo such as ``respones`` must
    not pass silently): extra data belongs under ``meta``.

``hh-rlhf``
    ``{"chosen": transcript, "rejected": transcript}`` as Anthropic's HH-RLHF files write
    them: ``"\\n\\nHuman: ...\\n\\nAssistant: ..."``. The two transcripts share a prefix that
    ends with an ``"\\n\\nAssistant:"`` marker; the last such marker inside the shared part is
    where the responses begin. The prefix becomes ``messages`` (Human → user, Assistant →
    assistant); what follows the marker, leading whitespace stripped, becomes response 0
    (chosen) and response 1 (rejected). Whatever the messages cannot say exactly (spacing,
    the separators after the marker) is kept in ``meta["hh_rlhf"]`` so that
    :func:`hh_rlhf_transcript` gives back the original text byte for byte. Empty responses
    occur in the published data and are kept. Other keys of the line go to ``meta``.

``trl``
    TRL's preference format: ``{"prompt", "chosen", "rejected"}`` as strings (standard) or
    as lists of messages (conversational: ``prompt`` the conversation so far, ``chosen`` and
    ``rejected`` the assistant reply), and the implicit-prompt form ``{"chosen",
    "rejected"}`` of two whole conversations that share everything but the last assistant
    message. Other keys go to ``meta``.

``prompts``
    ``{"prompt": str | "messages": [...], "meta"?: {...}}``: a prompt alone, for the active
    policy to propose responses to (``annotation.prompts``). It is not an item until it
    has them, so the annotation queue never serves it.

``hh-rlhf`` and ``trl`` lines carry a preference: chosen ≻ rejected, or a tie when both
responses are the same text (a choice between identical texts says nothing).

Empty responses are data: a model that answered nothing produced an output that annotators
rank (usually last) and a reward model must learn to score low. In every format a response
may be the empty string, and a whitespace-only response is kept exactly as written (in
hh-rlhf the whitespace after the final Assistant marker is the separator, so such a response
is empty, its whitespace kept in ``meta`` for the round trip). A response that is not a
string, or is missing, is still an error. :func:`is_blank` says which responses have no
visible text; the import counts them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ROLES = ("system", "user", "assistant")
MAX_MODEL_CHARS = 200  # Response.model and Response.external_id are 200-character columns
HH_HUMAN = "\n\nHuman:"
HH_ASSISTANT = "\n\nAssistant:"
HH_META_KEY = "hh_rlhf"


class LineError(ValueError):
    """What is wrong with one line, in words for the person who wrote the file."""


@dataclass(slots=True)
class ResponseRecord:
    text: str
    model: str = ""
    external_id: str = ""


@dataclass(slots=True)
class ItemRecord:
    prompt: str | None
    messages: list[dict[str, str]] | None
    responses: list[ResponseRecord]
    meta: dict[str, Any] = field(default_factory=dict)
    gold: list[list[int]] | None = None  # tiers of positions, best first
    preference: list[list[int]] | None = None  # tiers of positions, best first

    @property
    def empty_responses(self) -> int:
        """How many responses have no visible text (see :func:`is_blank`)."""
        return sum(1 for response in self.responses if is_blank(response.text))

    @property
    def content_hash(self) -> str:
        return content_hash(
            prompt=self.prompt,
            messages=self.messages,
            responses=[response.text for response in self.responses],
        )


def is_blank(text: str) -> bool:
    """True for a response with no visible text: the empty string or whitespace only."""
    return not text.strip()


# Built once: json.dumps with options builds a new encoder on every call, a third of the cost.
_canonical_json = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


def content_hash(*, prompt: str | None, messages: list[dict[str, str]] | None,
                 responses: list[str]) -> str:
    """sha256 of the prompt (or conversation) and the responses' texts, sorted.

    Sorting makes the same pair in swapped order (a common artefact of preference data that
    lists chosen first) one item. Model names, ids and meta are not content.
    """
    payload: dict[str, Any] = {"responses": sorted(responses)}
    if messages is not None:
        payload["messages"] = [{"role": m["role"], "content": m["content"]} for m in messages]
    else:
        payload["prompt"] = prompt
    return hashlib.sha256(_canonical_json(payload).encode("utf-8")).hexdigest()


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _messages(value: Any, *, where: str) -> list[dict[str, str]]:
    """A list of ``{"role", "content"}`` with known roles (any case) and string contents."""
    if not isinstance(value, list):
        raise LineError(f"{where} must be a list of messages, not {_type_name(value)}.")
    if not value:
        raise LineError(f"{where} is empty.")
    out = []
    for index, message in enumerate(value):
        here = f"{where}[{index}]"
        if not isinstance(message, dict):
            raise LineError(f"{here} must be an object with role and content, "
                            f"not {_type_name(message)}.")
        unknown = sorted(set(message) - {"role", "content"})
        if unknown:
            raise LineError(f"{here} has unknown field {unknown[0]!r}; a message has role "
                            "and content.")
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str) or role.lower() not in ROLES:
            raise LineError(f"{here}.role must be one of {', '.join(ROLES)}, not {role!r}.")
        if not isinstance(content, str):
            raise LineError(f"{here}.content must be a string, not {_type_name(content)}.")
        out.append({"role": role.lower(), "content": content})
    return out


def _meta(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise LineError(f"meta must be an object, not {_type_name(value)}.")
    return value


def _short_text(value: Any, *, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise LineError(f"{where} must be a string, not {_type_name(value)}.")
    text = str(value)
    if len(text) > MAX_MODEL_CHARS:
        raise LineError(f"{where} is longer than {MAX_MODEL_CHARS} characters.")
    return text


def _tiers(value: Any, *, k: int, where: str) -> list[list[int]]:
    """Tiers of 0-based positions that use every position in range(k) exactly once."""
    if not isinstance(value, list) or not value:
        raise LineError(f"{where} must be a non-empty list of tiers, e.g. [[0], [1]].")
    seen: set[int] = set()
    tiers = []
    for tier in value:
        if not isinstance(tier, list) or not tier:
            raise LineError(f"{where}: every tier must be a non-empty list of positions.")
        for position in tier:
            if isinstance(position, bool) or not isinstance(position, int):
                raise LineError(f"{where}: positions are integers, not {_type_name(position)}.")
            if not 0 <= position < k:
                raise LineError(f"{where}: position {position} is out of range 0..{k - 1}.")
            if position in seen:
                raise LineError(f"{where}: position {position} appears twice.")
            seen.add(position)
        tiers.append(list(tier))
    missing = sorted(set(range(k)) - seen)
    if missing:
        raise LineError(f"{where} must rank every response; missing position {missing[0]}.")
    return tiers


def _not_an_object(obj: Any) -> None:
    if not isinstance(obj, dict):
        raise LineError(f"A line must be a JSON object, not {_type_name(obj)}.")


def _pair_preference(chosen: str, rejected: str) -> list[list[int]]:
    return [[0, 1]] if chosen == rejected else [[0], [1]]


# --- native ------------------------------------------------------------------------------

NATIVE_KEYS = {"prompt", "messages", "responses", "meta", "gold"}


def parse_native(obj: Any, *, k: int) -> ItemRecord:
    _not_an_object(obj)
    unknown = sorted(set(obj) - NATIVE_KEYS)
    if unknown:
        hint = ""
        if {"chosen", "rejected"} <= set(obj):
            hint = " This looks like a preference pair: import it with format hh-rlhf or trl."
        raise LineError(f"Unknown field {unknown[0]!r}; extra data belongs under meta.{hint}")
    has_prompt, has_messages = "prompt" in obj, "messages" in obj
    if has_prompt == has_messages:
        raise LineError("A line needs exactly one of prompt and messages.")
    prompt: str | None = None
    messages: list[dict[str, str]] | None = None
    if has_prompt:
        prompt = obj["prompt"]
        if not isinstance(prompt, str):
            raise LineError(f"prompt must be a string, not {_type_name(prompt)}.")
        if not prompt.strip():
            raise LineError("prompt is empty.")
    else:
        messages = _messages(obj["messages"], where="messages")
    if "responses" not in obj:
        raise LineError("responses is missing.")
    raw = obj["responses"]
    if not isinstance(raw, list):
        raise LineError(f"responses must be a list, not {_type_name(raw)}.")
    if len(raw) != k:
        raise LineError(f"Expected {k} responses (the project's K), got {len(raw)}.")
    responses = []
    first_of: dict[str, int] = {}
    for index, value in enumerate(raw):
        here = f"responses[{index}]"
        if isinstance(value, str):
            response = ResponseRecord(text=value)
        elif isinstance(value, dict):
            unknown = sorted(set(value) - {"text", "model", "id"})
            if unknown:
                raise LineError(f"{here} has unknown field {unknown[0]!r}; a response has "
                                "text, model and id.")
            if "text" not in value:
                raise LineError(f"{here}.text is missing.")
            if not isinstance(value["text"], str):
                raise LineError(f"{here}.text must be a string, "
                                f"not {_type_name(value['text'])}.")
            response = ResponseRecord(
                text=value["text"],
                model=_short_text(value["model"], where=f"{here}.model")
                if value.get("model") is not None else "",
                external_id=_short_text(value["id"], where=f"{here}.id")
                if value.get("id") is not None else "",
            )
        else:
            raise LineError(f"{here} must be a string or an object with text, "
                            f"not {_type_name(value)}.")
        if response.text in first_of:
            raise LineError(f"{here} has the same text as responses[{first_of[response.text]}].")
        first_of[response.text] = index
        responses.append(response)
    meta = _meta(obj["meta"]) if "meta" in obj and obj["meta"] is not None else {}
    gold = None
    if obj.get("gold") is not None:
        if not isinstance(obj["gold"], dict) or set(obj["gold"]) != {"ranking"}:
            raise LineError('gold must be an object {"ranking": [[position, ...], ...]}.')
        gold = _tiers(obj["gold"]["ranking"], k=k, where="gold.ranking")
    return ItemRecord(prompt=prompt, messages=messages, responses=responses, meta=meta,
                      gold=gold)


# --- hh-rlhf -----------------------------------------------------------------------------


def _split_turns(prefix: str) -> list[dict[str, str]]:
    """``"\\n\\nHuman: a\\n\\nAssistant: b\\n\\nHuman: c\\n\\nAssistant:"`` → messages.

    The final Assistant marker opens the responses and is not a message. A single space
    after a marker is the format's separator and not part of the content.
    """
    body = prefix[: -len(HH_ASSISTANT)]
    # Files written by hand often start with "Human:" instead of "\n\nHuman:".
    if body.startswith(HH_HUMAN[2:]) or body.startswith(HH_ASSISTANT[2:]):
        body = "\n\n" + body
    messages: list[dict[str, str]] = []
    position = 0
    while position < len(body):
        if body.startswith(HH_HUMAN, position):
            role, marker = "user", HH_HUMAN
        elif body.startswith(HH_ASSISTANT, position):
            role, marker = "assistant", HH_ASSISTANT
        else:
            raise LineError("The transcript must start with a 'Human:' turn.")
        start = position + len(marker)
        following = [i for i in (body.find(HH_HUMAN, start), body.find(HH_ASSISTANT, start))
                     if i >= 0]
        end = min(following) if following else len(body)
        content = body[start:end]
        messages.append({"role": role, "content": content[1:] if content[:1] == " " else content})
        position = end
    if not any(m["role"] == "user" for m in messages):
        raise LineError("The shared prompt has no 'Human:' turn.")
    return messages


def _render_turns(messages: list[dict[str, str]]) -> str:
    parts = []
    for message in messages:
        marker = HH_HUMAN if message["role"] == "user" else HH_ASSISTANT
        parts.append(f"{marker} {message['content']}")
    return "".join(parts) + HH_ASSISTANT


def hh_rlhf_transcript(*, messages: list[dict[str, str]], response: str, position: int,
                       meta: dict[str, Any] | None = None) -> str:
    """The HH-RLHF transcript of one response: the inverse of :func:`parse_hh_rlhf`.

    ``position`` is the response's 0-based position in the item; the separator that followed
    the Assistant marker in the imported file (kept in meta) depends on it.
    """
    kept = (meta or {}).get(HH_META_KEY) or {}
    prefix = kept.get("prefix") or _render_turns(messages)
    separators = kept.get("separators") or [" ", " "]
    separator = separators[position] if position < len(separators) else " "
    return f"{prefix}{separator}{response}"


def _hh_split(chosen: str, rejected: str) -> tuple[str, str, str]:
    """(prefix ending in the Assistant marker, chosen remainder, rejected remainder)."""
    limit = min(len(chosen), len(rejected))
    shared = 0
    while shared < limit and chosen[shared] == rejected[shared]:
        shared += 1
    # rfind with an end bound only finds markers lying wholly inside the shared part.
    end = chosen.rfind(HH_ASSISTANT, 0, shared)
    if end < 0:
        raise LineError("chosen and rejected share no prompt ending in '\\n\\nAssistant:'; "
                        "cannot tell the prompt from the responses.")
    cut = end + len(HH_ASSISTANT)
    return chosen[:cut], chosen[cut:], rejected[cut:]


def parse_hh_rlhf(obj: Any, *, k: int = 2) -> ItemRecord:
    _not_an_object(obj)
    for key in ("chosen", "rejected"):
        if key not in obj:
            raise LineError(f"{key} is missing.")
        if not isinstance(obj[key], str):
            raise LineError(f"{key} must be a transcript string, not {_type_name(obj[key])}.")
    prefix, chosen_rest, rejected_rest = _hh_split(obj["chosen"], obj["rejected"])
    messages = _split_turns(prefix)
    chosen, rejected = chosen_rest.lstrip(), rejected_rest.lstrip()
    kept: dict[str, Any] = {}
    if _render_turns(messages) != prefix:
        kept["prefix"] = prefix
    separators = [chosen_rest[: len(chosen_rest) - len(chosen)],
                  rejected_rest[: len(rejected_rest) - len(rejected)]]
    if separators != [" ", " "]:
        kept["separators"] = separators
    meta = {key: value for key, value in obj.items() if key not in ("chosen", "rejected")}
    if kept:
        meta[HH_META_KEY] = kept
    return ItemRecord(
        prompt=None,
        messages=messages,
        responses=[ResponseRecord(text=chosen), ResponseRecord(text=rejected)],
        meta=meta,
        preference=_pair_preference(chosen, rejected),
    )


# --- trl ---------------------------------------------------------------------------------


def parse_trl(obj: Any, *, k: int = 2) -> ItemRecord:
    _not_an_object(obj)
    for key in ("chosen", "rejected"):
        if key not in obj:
            raise LineError(f"{key} is missing.")
    chosen, rejected = obj["chosen"], obj["rejected"]
    meta = {key: value for key, value in obj.items()
            if key not in ("prompt", "chosen", "rejected")}
    prompt = obj.get("prompt")
    if isinstance(chosen, str) and isinstance(rejected, str):
        if prompt is None:
            raise LineError("prompt is missing; the implicit-prompt form needs chosen and "
                            "rejected as lists of messages.")
        if not isinstance(prompt, str):
            raise LineError("prompt, chosen and rejected must all be strings (standard) or "
                            "all be lists of messages (conversational).")
        if not prompt.strip():
            raise LineError("prompt is empty.")
        return ItemRecord(
            prompt=prompt, messages=None,
            responses=[ResponseRecord(text=chosen), ResponseRecord(text=rejected)],
            meta=meta, preference=_pair_preference(chosen, rejected),
        )
    if not (isinstance(chosen, list) and isinstance(rejected, list)
            and (prompt is None or isinstance(prompt, list))):
        raise LineError("prompt, chosen and rejected must all be strings (standard) or "
                        "all be lists of messages (conversational).")
    head = _messages(prompt, where="prompt") if prompt is not None else []
    whole_chosen = head + _messages(chosen, where="chosen")
    whole_rejected = head + _messages(rejected, where="rejected")
    # The prompt is everything the two conversations share, up to their last messages.
    shared = 0
    limit = min(len(whole_chosen), len(whole_rejected)) - 1
    while shared < limit and whole_chosen[shared] == whole_rejected[shared]:
        shared += 1
    for name, whole in (("chosen", whole_chosen), ("rejected", whole_rejected)):
        rest = whole[shared:]
        if len(rest) != 1 or rest[0]["role"] != "assistant":
            raise LineError(f"{name} must end in exactly one assistant message after the "
                            "prompt it shares with the other side.")
    if shared == 0:
        raise LineError("There is no prompt: chosen and rejected share no messages.")
    chosen_text = whole_chosen[-1]["content"]
    rejected_text = whole_rejected[-1]["content"]
    return ItemRecord(
        prompt=None, messages=whole_chosen[:shared],
        responses=[ResponseRecord(text=chosen_text), ResponseRecord(text=rejected_text)],
        meta=meta, preference=_pair_preference(chosen_text, rejected_text),
    )


PROMPT_KEYS = {"prompt", "messages", "meta"}


def parse_prompt(obj: Any, *, k: int = 0) -> ItemRecord:
    """A ``prompts`` line: the prompt or conversation of a native line, no responses."""
    _not_an_object(obj)
    unknown = sorted(set(obj) - PROMPT_KEYS)
    if unknown:
        raise LineError(f"Unknown field {unknown[0]!r}; a prompts line has prompt or messages, "
                        "and meta.")
    return parse_native({**obj, "responses": []}, k=0)


Parser = Callable[..., ItemRecord]
PARSERS: dict[str, Parser] = {"native": parse_native, "hh-rlhf": parse_hh_rlhf, "trl": parse_trl,
                              "prompts": parse_prompt}
# Formats whose lines always hold a pair: they fit only projects with K = 2.
FIXED_K = {"hh-rlhf": 2, "trl": 2}
# Whether lines of a format carry a preference that labels=imported would store.
CARRIES_LABELS = {"native": False, "hh-rlhf": True, "trl": True, "prompts": False}
# Formats whose lines are prompts alone (stored as annotation.prompts.PendingPrompt).
PROMPTS_ONLY = {"prompts"}
