"""One example line per import format, as the import page shows them.

Plain data, no Django: the page prints these and a test imports every one of them, so an
example that the importer would refuse cannot be shown. The native example is built for the
project's K (its number of responses must match); hh-rlhf and trl hold two responses and fit
only K = 2 projects.
"""

from __future__ import annotations

import json
from typing import Any

from . import formats

ANSWERS = ["Red, yellow and blue.", "Green.", "In painting: red, yellow and blue; in light: "
           "red, green and blue.", "Purple.", "Orange.", "Black and white.", "Cyan.", "Pink."]

NOTES = {
    "native": "A prompt (or a conversation as messages) with the project's K responses. "
              "Optional: meta, gold ranking (0-based positions, best first), a model name "
              "per response.",
    "hh-rlhf": "Anthropic HH-RLHF: two transcripts sharing the conversation; the first is "
               "the chosen one. K = 2 projects only.",
    "trl": "TRL preference pairs: prompt, chosen, rejected (strings or message lists). "
           "K = 2 projects only.",
    "prompts": "A prompt alone: it waits for the active policy to propose responses.",
}


def _lines(k: int) -> dict[str, Any]:
    responses = [{"text": ANSWERS[i % len(ANSWERS)] + ("" if i < len(ANSWERS) else f" ({i})"),
                  "model": f"model-{chr(97 + i % 26)}"} for i in range(k)]
    return {
        "native": {"prompt": "Which are the primary colours?", "responses": responses,
                   "meta": {"source": "example"}},
        "hh-rlhf": {"chosen": "\n\nHuman: What is the capital of France?\n\nAssistant: Paris.",
                    "rejected": "\n\nHuman: What is the capital of France?\n\nAssistant: Lyon."},
        "trl": {"prompt": "How many legs does a spider have?", "chosen": "Eight.",
                "rejected": "Six."},
        "prompts": {"messages": [{"role": "user", "content": "Explain photosynthesis simply."}],
                    "meta": {"source": "example"}},
    }


def examples(*, k: int) -> list[dict[str, Any]]:
    """``[{"format", "line", "note", "fits"}]``: ``fits`` is False where K rules it out."""
    out = []
    for name, value in _lines(k).items():
        fixed = formats.FIXED_K.get(name)
        out.append({"format": name, "line": json.dumps(value, ensure_ascii=False),
                    "note": NOTES[name], "fits": fixed is None or fixed == k})
    return out
