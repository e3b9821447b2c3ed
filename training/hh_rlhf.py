"""Read Anthropic hh-rlhf style files into prompt / response pairs.

Each line is ``{"chosen": transcript, "rejected": transcript}`` with transcripts like
``"\\n\\nHuman: ...\\n\\nAssistant: ..."``. Both transcripts share everything up to and
including the last ``"\\n\\nAssistant:"`` before they first differ: that is the prompt; the
remainder of each transcript is its response.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

ASSISTANT = "\n\nAssistant:"
HUMAN = "\n\nHuman:"


def split_pair(chosen: str, rejected: str) -> tuple[str, str, str]:
    """(prompt, chosen response, rejected response) of one hh-rlhf line."""
    common = 0
    limit = min(len(chosen), len(rejected))
    while common < limit and chosen[common] == rejected[common]:
        common += 1
    # last "\n\nAssistant:" lying wholly inside the shared prefix
    cut = chosen.rfind(ASSISTANT, 0, common)
    if cut < 0:  # no assistant marker: the whole shared prefix is the prompt
        return chosen[:common], chosen[common:], rejected[common:]
    end = cut + len(ASSISTANT)
    return chosen[:end], chosen[end:], rejected[end:]


def last_human_turn(prompt: str) -> str:
    """Text of the last ``Human:`` turn of a prompt (the whole prompt if none)."""
    start = prompt.rfind(HUMAN)
    if start < 0:
        return prompt.strip()
    turn = prompt[start + len(HUMAN) :]
    if turn.endswith(ASSISTANT):
        turn = turn[: -len(ASSISTANT)]
    return turn.strip()


def read_pairs(path: str | Path) -> Iterator[tuple[str, str, str]]:
    """Yield (prompt, chosen response, rejected response) for each line of a .jsonl(.gz) file."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                yield split_pair(row["chosen"], row["rejected"])
