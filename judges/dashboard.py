"""The "AI judges" section of the quality dashboard, for the project's managers.

Registered in :class:`judges.apps.JudgesConfig` through annotation's generic extension
point (:mod:`annotation.quality.panels`), so annotation never imports judges. Server
rendered from :func:`judges.selectors.trust` (the figures of the trust API, so the page
and the API cannot disagree): per judge its agreement beside the human ceiling, κ, ECE,
position bias with its p-value, a reliability diagram drawn as inline SVG, and the same
figures per principle.
"""

from __future__ import annotations

from django.template.loader import render_to_string

from annotation.permissions import RANK, Role, role_in

from . import selectors

# The reliability diagram's geometry, in SVG user units.
WIDTH, HEIGHT = 300, 260
LEFT, TOP, PLOT = 52, 14, 200  # the plot is a PLOT × PLOT square
TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)
MAX_RADIUS = 9.0
SIGNIFICANT = 0.01  # a position bias with p below this is highlighted


def panel(request, project) -> str | None:
    """The section's HTML for a manager of ``project``; None for anyone else."""
    role = role_in(user=request.user, project=project)
    if role is None or RANK[role] < RANK[Role.MANAGER]:
        return None
    figures = selectors.trust(project=project)
    judges = [judge_row(judge) for judge in figures["judges"] if judge["n_items"]]
    return render_to_string("judges/quality_panel.html", {
        "project": project, "ceiling": percent(figures["human_ceiling"]), "judges": judges,
    }, request=request)


def judge_row(judge: dict) -> dict:
    bias = judge["position_bias"]
    return {
        **judge, **shown(judge),
        "bias": bias and {**bias, "rate_text": number(bias["first_shown_rate"]),
                          "p_text": p_value(bias["p_value"])},
        "bias_highlight": bool(bias and bias["p_value"] is not None
                               and bias["p_value"] < SIGNIFICANT),
        "diagram": diagram(judge["reliability"]),
        "principles": [{"name": name, **row, **shown(row)}
                       for name, row in judge["by_principle"].items()],
    }


def shown(figures: dict) -> dict:
    """The figures as the page writes them ("–" where there is none)."""
    return {"percent_text": percent(figures["percent_agreement"]),
            "kappa_text": number(figures["cohen_kappa"]), "ece_text": number(figures["ece"])}


def percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def number(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def p_value(value: float | None) -> str:
    if value is None:
        return "–"
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def x_of(value: float) -> float:
    return round(LEFT + value * PLOT, 1)


def y_of(value: float) -> float:
    return round(TOP + (1 - value) * PLOT, 1)


def diagram(bins: list[dict]) -> dict:
    """What the template draws: axes, ticks, the diagonal, one point per non-empty bin
    (area by count, its count beside it) and the line through the points."""
    filled = [b for b in bins if b["n"]]
    largest = max((b["n"] for b in filled), default=1)
    points = []
    for b in filled:
        x, y = x_of(b["mean_predicted"]), y_of(b["observed"])
        points.append({
            "x": x, "y": y, "n": b["n"],
            "r": round(max(2.5, MAX_RADIUS * (b["n"] / largest) ** 0.5), 1),
            # The count sits above the point, or below it at the top edge.
            "label_y": round(y - 11 if y > TOP + 16 else y + 20, 1),
            "title": f"Predicted {b['mean_predicted']:.2f}, observed {b['observed']:.2f}, "
                     f"{b['n']} items ({b['lower']:.1f}–{b['upper']:.1f})",
        })
    return {
        "width": WIDTH, "height": HEIGHT, "left": LEFT, "top": TOP, "right": LEFT + PLOT,
        "bottom": TOP + PLOT, "middle_x": LEFT + PLOT / 2, "middle_y": TOP + PLOT / 2,
        "ticks": [{"label": f"{t:g}", "x": x_of(t), "y": y_of(t)} for t in TICKS],
        "points": points,
        "line": " ".join(f"{p['x']},{p['y']}" for p in points),
        "n": sum(b["n"] for b in filled),
    }
