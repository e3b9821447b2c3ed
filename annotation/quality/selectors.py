"""Reads: a project's agreement report (overall, weekly, per annotator pair)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import numpy as np

from ..models import Project
from ..project_settings import project_settings
from . import report
from .labels import HUMAN, Label, LabelSet, counted_labels, pair_table

WEEKLY_SAMPLES = 200


def agreement_report(*, project: Project, guideline_version: int | None = None,
                     since: datetime | None = None) -> dict:
    """The figures of ``GET /projects/{id}/agreement/`` (README "Label quality")."""
    quality = project_settings(project).quality
    found = counted_labels(project=project, sources=HUMAN, guideline_version=guideline_version,
                           since=since)
    table = pair_table(found.labels, found.items)
    overall = _figures(found.labels, found, samples=quality.bootstrap_samples, table=table)
    pairs = report.cohen_matrix(table.unit, table.rater, table.value, n_units=table.n_units,
                                n_raters=len(table.rater_ids), min_units=quality.cohen_min_units)
    cohen = [{"a": table.rater_ids[a], "b": table.rater_ids[b],
              "a_username": found.usernames.get(table.rater_ids[a], ""),
              "b_username": found.usernames.get(table.rater_ids[b], ""),
              "kappa": kappa, "n": n} for a, b, kappa, n in pairs]
    w, w_items = kendall_w(found)
    return {
        **overall,
        "n_annotators": len({label.annotator_id for label in found.labels}),
        "cohen_kappa": cohen,
        "cohen_min_units": quality.cohen_min_units,
        "kendall_w": w,
        "kendall_w_items": w_items,
        "weekly": weekly(found, samples=min(quality.bootstrap_samples, WEEKLY_SAMPLES),
                         overall=overall),
        "filters": {"guideline_version": guideline_version,
                    "since": since.isoformat() if since else None},
    }


def _figures(labels: list[Label], found: LabelSet, *, samples: int, table=None) -> dict:
    table = table if table is not None else pair_table(labels, found.items)
    counts = report.unit_counts(table.unit, table.value, table.n_units)
    stats = report.item_statistics(counts, table.unit_item, len(table.item_ids))
    figures = report.agreement_figures(stats).as_dict()
    ci = report.bootstrap_figures(stats, samples=samples)
    pairable_items = stats[:, 10] > 0
    counted_items = {table.item_ids[i] for i in np.nonzero(pairable_items)[0]}
    return {
        "n_items": int(pairable_items.sum()),
        "n_annotations": sum(1 for label in labels if label.item_id in counted_items),
        "n_labels": len(labels),
        "n_units": int(stats[:, 10].sum()),
        "percent_agreement": figures["percent_agreement"],
        "krippendorff_alpha": {"nominal": figures["alpha_nominal"],
                               "ordinal": figures["alpha_ordinal"]},
        "fleiss_kappa": figures["fleiss_kappa"],
        "ci": {"confidence": 0.95, "samples": samples,
               **{name: list(interval) if interval else None for name, interval in ci.items()}},
    }


def weekly(found: LabelSet, *, samples: int, overall: dict | None = None) -> list[dict]:
    """The figures of each ISO week's labels (Monday to Sunday, UTC), oldest first; a
    single week is the overall figures again."""
    weeks: dict[tuple[int, int], list[Label]] = defaultdict(list)
    for label in found.labels:
        year, week, _ = label.created_at.isocalendar()
        weeks[(year, week)].append(label)
    out = []
    for (year, week), labels in sorted(weeks.items()):
        start = datetime.fromisocalendar(year, week, 1).date()
        figures = (overall if overall is not None and len(weeks) == 1
                   else _figures(labels, found, samples=samples))
        out.append({"week": f"{year}-W{week:02d}", "start": start.isoformat(),
                    "end": (start + timedelta(days=6)).isoformat(), **figures})
    return out


def mid_ranks(tiers: list[list[int]], k: int) -> np.ndarray:
    """Rank of each position (1 = best); tied responses share the mean of their ranks."""
    ranks = np.empty(k)
    before = 0
    for tier in tiers:
        ranks[tier] = before + (len(tier) + 1) / 2.0
        before += len(tier)
    return ranks


def kendall_w(found: LabelSet) -> tuple[float | None, int]:
    """Mean Kendall's W over the items with K ≥ 3 responses and two or more labels, and
    how many items that is (W is undefined for K = 2)."""
    groups: dict[tuple[int, int], list[np.ndarray]] = defaultdict(list)
    if all(info.k < 3 for info in found.items.values()):
        return None, 0
    for item_id, labels in found.by_item().items():
        k = found.items[item_id].k
        if k >= 3 and len(labels) >= 2:
            ranks = np.stack([mid_ranks(label.tiers, k) for label in labels], axis=1)
            groups[(k, len(labels))].append(ranks)
    values = np.concatenate([report.kendall_w_items(np.stack(stack))
                             for stack in groups.values()]) if groups else np.empty(0)
    values = values[np.isfinite(values)]
    return (float(values.mean()) if values.size else None), int(values.size)
