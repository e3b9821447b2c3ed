"""Why a task was chosen: every wording of ``reason`` lives here.

The engine stores the true reason on the assignment (``Assignment.reason``, which managers
see). The annotator's ``next`` answer carries the same text, except for a hidden gold item:
saying "gold" there would tell the annotator that this task is a test, so they are shown the
reason an ordinary new item would carry (see ``shown_to_annotator``).
"""

from __future__ import annotations

GOLD = "gold: hidden quality check"
OLDEST = "oldest open item"


def practice(number: int, required: int) -> str:
    if number <= required:
        return f"practice: gold item {number} of {required}"
    return f"practice: extra gold item {number} (your last {required} answers count)"


def started(*, labels: int, overlap: int, in_progress: int) -> str:
    text = f"finish started item ({labels}/{overlap} labels"
    if in_progress:
        text += f", {in_progress} in progress"
    return text + ")"


def uncertainty(value: float) -> str:
    return f"active learning: uncertainty {value:.3g}"


def fresh(*, active_learning: bool, item_uncertainty: float | None) -> str:
    """The reason of an item nobody has started, in the project's serving order."""
    if active_learning and item_uncertainty is not None:
        return uncertainty(item_uncertainty)
    return OLDEST


def for_open_item(*, labels: int, in_progress: int, overlap: int, active_learning: bool,
                  item_uncertainty: float | None) -> str:
    """The reason of an item taken from the open queue, from its state before the claim."""
    if labels + in_progress > 0:
        return started(labels=labels, overlap=overlap, in_progress=in_progress)
    return fresh(active_learning=active_learning, item_uncertainty=item_uncertainty)


def shown_to_annotator(*, stored: str, is_practice: bool, active_learning: bool,
                       item_uncertainty: float | None) -> str:
    """What the annotator reads: a hidden gold item looks like a new item."""
    if stored == GOLD and not is_practice:
        return fresh(active_learning=active_learning, item_uncertainty=item_uncertainty)
    return stored
