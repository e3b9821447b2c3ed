"""Reading a judge's answer, strictly: a verdict is found or the answer is unparseable.

Two forms are accepted (see :func:`judges.engine.prompts.chat_messages`):

- a bracketed token, ``[[A]]``, ``[[B]]`` or ``[[C]]`` (a tie), anywhere in the answer.
  The same token may repeat (the last one counts); two different ones conflict. Tokens
  are upper case only: ``[[a]]`` is not a verdict (a lower-case token usually comes from
  the model quoting the instructions, so it is reported, not read);
- when there is no token, a JSON object: the whole answer, or the single fenced
  ```` ```json ```` block in it, with ``"verdict"`` one of ``"A"``, ``"B"``, ``"tie"`` and
  an optional ``"confidence"`` (how sure the judge is of that verdict) in 0.5..1; other
  keys such as ``"reason"`` are allowed.

The preference is P(A is better): A → 1.0 (or the confidence), B → 0.0 (or 1 − the
confidence), tie → 0.5. Anything else is unparseable, with the reason, and never guessed.
"""

from __future__ import annotations

import json
import math
import re

from judges.engine.types import Verdict

TOKEN = re.compile(r"\[\[([ABC])\]\]")
LOWERCASE_TOKEN = re.compile(r"\[\[([abc])\]\]")
FENCED_JSON = re.compile(r"```json[ \t]*\n(.*?)\n?```", re.DOTALL)
TOKEN_VERDICTS: dict[str, Verdict] = {"A": "A", "B": "B", "C": "tie"}
TIE_TOLERANCE = 1e-6

Parsed = tuple[Verdict, float | None, str]


def unparseable(reason: str) -> Parsed:
    return "unparseable", None, reason


def verdict_for(preference: float, tolerance: float = TIE_TOLERANCE) -> Verdict:
    """A, B or tie for a soft preference P(A is better): a tie within ``tolerance`` of 0.5."""
    if abs(preference - 0.5) < tolerance:
        return "tie"
    return "A" if preference > 0.5 else "B"


def parse_verdict(text: str) -> Parsed:
    """(verdict, preference, error); error is "" when a verdict was read."""
    if not text or not text.strip():
        return unparseable("empty answer")
    tokens = TOKEN.findall(text)
    if tokens:
        distinct = sorted(set(tokens))
        if len(distinct) > 1:
            found = ", ".join(f"[[{t}]]" for t in distinct)
            return unparseable(f"conflicting verdicts: {found}")
        verdict = TOKEN_VERDICTS[tokens[-1]]
        return verdict, {"A": 1.0, "B": 0.0, "tie": 0.5}[verdict], ""
    document = json_document(text)
    if document is not None:
        return parse_json_verdict(document)
    lower = LOWERCASE_TOKEN.search(text)
    if lower:
        return unparseable(f"lower-case {lower.group(0)} is not a verdict; "
                           "expected [[A]], [[B]] or [[C]]")
    return unparseable("no verdict found: expected [[A]], [[B]], [[C]] or a JSON object "
                       'with "verdict"')


def json_document(text: str) -> str | None:
    """The whole answer when it looks like a JSON object, else a lone fenced json block."""
    stripped = text.strip()
    if stripped.startswith("{"):
        return stripped
    blocks = FENCED_JSON.findall(text)
    if len(blocks) == 1:
        return blocks[0].strip()
    if len(blocks) > 1:
        return ""  # reported by parse_json_verdict as not one object
    return None


def parse_json_verdict(document: str) -> Parsed:
    if not document:
        return unparseable("more than one ```json block")
    try:
        value = json.loads(document)
    except json.JSONDecodeError as error:
        return unparseable(f"invalid JSON: {error.msg} at position {error.pos}")
    if not isinstance(value, dict):
        return unparseable("the JSON answer is not an object")
    verdict = value.get("verdict")
    if verdict not in ("A", "B", "tie"):
        return unparseable(f'"verdict" must be "A", "B" or "tie", not {verdict!r}')
    if "confidence" not in value:
        return verdict, {"A": 1.0, "B": 0.0, "tie": 0.5}[verdict], ""
    confidence = value["confidence"]
    if (isinstance(confidence, bool) or not isinstance(confidence, int | float)
            or not math.isfinite(confidence) or not 0 <= confidence <= 1):
        return unparseable(f'"confidence" must be a number from 0 to 1, not {confidence!r}')
    if verdict == "tie":
        return "tie", 0.5, ""
    if confidence < 0.5:
        # Below 0.5 the judge would rather bet on the other response: a contradiction.
        return unparseable(f'"confidence" {confidence} is below 0.5 for verdict {verdict!r}')
    confidence = float(confidence)
    return verdict, confidence if verdict == "A" else 1.0 - confidence, ""
