"""Why a task was chosen: every wording of ``reason`` lives here.

Two readers, two texts.

Stored (``Assignment.reason``, which managers see) is detailed: the rule that applied and
the item's state under it, e.g. "finish started item (1/2 labels, 1 in progress)",
"active learning: uncertainty 0.03", "gold: hidden quality check (shown as \"oldest open
item\")".

Shown (the ``reason`` of the annotator's answers, ``shown_to_annotator``) is the rule's
category only: "finish started item", "active learning: uncertain item", "oldest open
item", or the practice wording (practice is announced, so its wording may count the
member's own practice items).

The rule for what annotators read: nothing a hidden gold item could not show as well. A gold
item has no overlap, so its label counts are not an ordinary item's; it is never scored by
the reward model, so it has no uncertainty; and it comes out of queue order, so even a
figure borrowed from another item would stand out (a repeated value, a break in the
ascending uncertainties). Hence:

- the shown reason of an open-queue task names its rule and nothing item-specific;
- a hidden gold task is served only in place of the open-queue task the annotator would have
  got at that moment, and shows that task's category. The category is stored with the gold
  reason, so asking again for the held task shows the same text. The sequence of reasons an
  annotator sees then follows the queue's rules whether or not gold was drawn.
"""

from __future__ import annotations

GOLD = "gold: hidden quality check"
OLDEST = "oldest open item"
STARTED = "finish started item"
UNCERTAIN = "active learning: uncertain item"
_ACTIVE_LEARNING = "active learning: "
_SHOWN_AS = ' (shown as "'


def practice(number: int, required: int) -> str:
    if number <= required:
        return f"practice: gold item {number} of {required}"
    return f"practice: extra gold item {number} (your last {required} answers count)"


def started(*, labels: int, overlap: int, in_progress: int) -> str:
    text = f"{STARTED} ({labels}/{overlap} labels"
    if in_progress:
        text += f", {in_progress} in progress"
    return text + ")"


def uncertainty(value: float) -> str:
    return f"{_ACTIVE_LEARNING}uncertainty {value:.3g}"


def fresh(*, active_learning: bool, item_uncertainty: float | None) -> str:
    """The reason of an item nobody has started, in the project's serving order."""
    if active_learning and item_uncertainty is not None:
        return uncertainty(item_uncertainty)
    return OLDEST


def for_open_item(*, labels: int, in_progress: int, overlap: int, active_learning: bool,
                  item_uncertainty: float | None) -> str:
    """The stored reason of an item taken from the open queue, from its state before the
    claim."""
    if labels + in_progress > 0:
        return started(labels=labels, overlap=overlap, in_progress=in_progress)
    return fresh(active_learning=active_learning, item_uncertainty=item_uncertainty)


def hidden_gold(*, instead_of: str) -> str:
    """The stored reason of a hidden gold item served in place of an open-queue item whose
    stored reason is ``instead_of``."""
    return f'{GOLD}{_SHOWN_AS}{shown_to_annotator(stored=instead_of, is_practice=False)}")'


def is_hidden_gold(stored: str) -> bool:
    return stored == GOLD or stored.startswith(GOLD + _SHOWN_AS)


def shown_to_annotator(*, stored: str, is_practice: bool) -> str:
    """What the annotator reads of a stored reason (see the module docstring)."""
    if is_practice:
        return stored
    if is_hidden_gold(stored):
        # A bare GOLD was stored before gold took the category of the task it replaced.
        return stored[len(GOLD) + len(_SHOWN_AS):-2] if stored != GOLD else OLDEST
    if stored.startswith(STARTED):
        return STARTED
    if stored.startswith(_ACTIVE_LEARNING):
        return UNCERTAIN
    return stored
