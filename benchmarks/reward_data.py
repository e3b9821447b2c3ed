"""hh-rlhf pairs as reward-model comparisons, read the way the product imports them.

Each line goes through the import parser (``annotation.imports.formats.parse_hh_rlhf``):
the transcripts are split at the last ``"\\n\\nAssistant:"`` marker they share, the shared
part becomes the conversation and is flattened into the prompt a reward model reads
(``training.prompts.prompt_text``), and the rest of each transcript is a response. A line
the import would refuse (no shared Assistant marker, no Human turn) is skipped, and so is
a line that carries no preference (both responses the same text), as training skips it.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from annotation.imports.formats import LineError, parse_hh_rlhf
from training.prompts import prompt_text
from training.reward import Comparison

DEFAULT_DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "hh-rlhf-harmless-base-test.jsonl.gz"
)


def hh_comparisons(path: str | Path, *, limit: int | None = None) -> list[Comparison]:
    """One Comparison per usable line of a .jsonl(.gz) file, in file order (item_id = the
    line's 0-based number among non-blank lines): responses [chosen, rejected], ranking
    [[0], [1]]. ``limit`` reads only the first N non-blank lines."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    out = []
    with opener(path, "rt", encoding="utf-8") as f:
        lines = (line for line in f if line.strip())
        for number, line in enumerate(lines):
            if limit is not None and number >= limit:
                break
            try:
                record = parse_hh_rlhf(json.loads(line))
            except LineError:
                continue
            if len(record.preference or []) < 2:
                continue
            out.append(
                Comparison(
                    item_id=number,
                    prompt=prompt_text(prompt=record.prompt, messages=record.messages),
                    responses=[response.text for response in record.responses],
                    ranking=record.preference,
                )
            )
    return out
