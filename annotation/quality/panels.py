"""Sections other apps add to the quality dashboard, without annotation knowing them.

An app registers a callable ``(request, project) -> html or None`` in its
``AppConfig.ready`` (:func:`register`); the dashboard page renders, in registration order,
the HTML of every panel that returns some (None: nothing to show this user). annotation
imports no app that registers here, so the dependency points one way only.
"""

from __future__ import annotations

from collections.abc import Callable

from django.utils.safestring import SafeString

Panel = Callable[..., "SafeString | str | None"]
PANELS: list[Panel] = []


def register(panel: Panel) -> Panel:
    """Add ``panel`` once (a second ``ready`` call, as in tests, adds nothing)."""
    if panel not in PANELS:
        PANELS.append(panel)
    return panel


def rendered(request, project) -> list[str]:
    """The HTML of the panels that have something to show, in registration order. A
    panel's HTML is its own to escape: it comes from a template (SafeString)."""
    out = []
    for panel in PANELS:
        html = panel(request, project)
        if html:
            out.append(html)
    return out
