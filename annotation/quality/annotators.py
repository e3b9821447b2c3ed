"""The annotator QC table and the trust auto-pause.

Signals come from :mod:`annotation.quality.signals` over the project's counted human labels
(hidden gold included, practice left out), trust from :mod:`annotation.quality.trust`. A
member resumed by a manager is judged again on the labels made after resuming only.
"""

from __future__ import annotations

from django.db.models import Count

from ..models import Assignment, Membership, Project
from ..project_settings import project_settings
from .labels import HUMAN, LabelSet, counted_labels
from .signals import AnnotatorSignals, LabelRecord, annotator_signals
from .trust import Trust, annotator_trust

CSV_COLUMNS = [
    "annotator", "username", "role", "status", "labels", "gold_labels", "gold_accuracy",
    "agreement", "median_seconds", "speed_ratio", "first_wins", "first_wins_n",
    "position_p_value", "tie_rate", "straight_run", "straight_modal_share", "skips",
    "skip_rate", "trust", "judged", "flags", "reason", "paused_reason",
]


def _records(found: LabelSet, *, since_of: dict[int, object] | None = None) -> list[LabelRecord]:
    records = []
    for label in found.labels:
        after = (since_of or {}).get(label.annotator_id)
        if after is not None and label.created_at < after:
            continue
        info = found.items[label.item_id]
        records.append(LabelRecord(
            annotator=label.annotator_id, item=label.item_id, tiers=label.tiers,
            display_order=label.display,
            seconds=label.duration_ms / 1000.0 if label.duration_ms is not None else None,
            gold_tiers=info.gold if info.is_gold else None))
    return records


def _skips(project: Project) -> dict[int, int]:
    return dict(Assignment.objects.filter(project=project, status=Assignment.Status.SKIPPED,
                                          is_practice=False)
                .values("annotator_id").annotate(n=Count("id")).values_list("annotator_id", "n"))


def _trust_options(project: Project) -> dict:
    quality = project_settings(project).quality
    return {"pause_below_trust": quality.flag_below_trust, "min_labels": quality.min_labels}


def _signals(project: Project) -> tuple[dict, LabelSet]:
    found = counted_labels(project=project, sources=HUMAN, with_display=True)
    return annotator_signals(_records(found), skips=_skips(project)), found


def _ratio(value):
    return None if value is None else float(value)


def _row(member: Membership, sig: AnnotatorSignals | None, trust: Trust | None) -> dict:
    bias = sig.position_bias if sig else None
    lining = sig.straight_lining if sig else None
    return {
        "annotator": member.user_id, "username": member.user.username, "member": member.pk,
        "role": member.role,
        "labels": sig.labels if sig else 0, "gold_labels": sig.gold_labels if sig else 0,
        "gold_accuracy": _ratio(sig.gold_accuracy) if sig else None,
        "agreement": _ratio(sig.agreement) if sig else None,
        "median_seconds": _ratio(sig.median_seconds) if sig else None,
        "speed_ratio": _ratio(sig.speed_ratio) if sig else None,
        "position_bias": {"first_wins": _ratio(bias.first_wins) if bias else None,
                          "n": bias.n if bias else 0,
                          "p_value": _ratio(bias.p_value) if bias else None},
        "tie_rate": _ratio(sig.tie_rate) if sig else None,
        "straight_lining": {"longest_run": lining.longest_run if lining else 0,
                            "modal_share": _ratio(lining.modal_share) if lining else None},
        "skips": sig.skips if sig else 0,
        "skip_rate": _ratio(sig.skip_rate) if sig else None,
        "trust": trust.trust if trust else None,
        "judged": trust.judged if trust else False,
        "flagged": trust.flagged if trust else False,
        "flags": list(trust.flags) if trust else [],
        "reason": trust.reason if trust else "no labels yet",
        "status": member.status, "paused_reason": member.paused_reason,
        "paused_at": member.paused_at.isoformat() if member.paused_at else None,
        "paused_by": member.paused_by.username if member.paused_by else None,
    }


def annotator_table(*, project: Project) -> dict:
    """``GET /projects/{id}/annotators/``: one row per annotator member (and anyone else
    who labelled), most labels first."""
    signals, _ = _signals(project)
    options = _trust_options(project)
    members = list(project.memberships.select_related("user", "paused_by").order_by("id"))
    rows = []
    for member in members:
        sig = signals.get(member.user_id)
        if member.role != Membership.Role.ANNOTATOR and sig is None:
            continue
        trust = annotator_trust(sig, **options) if sig is not None else None
        rows.append(_row(member, sig, trust))
    rows.sort(key=lambda r: (-r["labels"], r["username"]))
    seconds = [s.median_seconds for s in signals.values() if s.median_seconds is not None]
    quality = project_settings(project).quality
    return {
        "count": len(rows),
        "project_median_seconds": _project_median(signals),
        "flag_below_trust": quality.flag_below_trust,
        "pause_below_trust": quality.pause_below_trust,
        "min_labels": quality.min_labels,
        "annotators_timed": len(seconds),
        "results": rows,
    }


def _project_median(signals: dict) -> float | None:
    for sig in signals.values():
        if sig.median_seconds is not None and sig.speed_ratio:
            return float(sig.median_seconds / sig.speed_ratio)
    return None


def csv_rows(rows: list[dict]):
    for r in rows:
        bias, lining = r["position_bias"], r["straight_lining"]
        yield [r["annotator"], r["username"], r["role"], r["status"], r["labels"],
               r["gold_labels"], r["gold_accuracy"], r["agreement"], r["median_seconds"],
               r["speed_ratio"], bias["first_wins"], bias["n"], bias["p_value"], r["tie_rate"],
               lining["longest_run"], lining["modal_share"], r["skips"], r["skip_rate"],
               r["trust"], r["judged"], " ".join(r["flags"]), r["reason"], r["paused_reason"]]


def pause_untrusted(*, project: Project) -> list[Membership]:
    """Pause every active annotator whose trust (judged on at least ``quality.min_labels``
    labels since they were last resumed) is below ``quality.pause_below_trust``."""
    from .services import set_member_status

    quality = project_settings(project).quality
    if quality.pause_below_trust is None:
        return []
    members = {m.user_id: m for m in project.memberships.select_related("user").filter(
        role=Membership.Role.ANNOTATOR, status=Membership.Status.ACTIVE)}
    if not members:
        return []
    found = counted_labels(project=project, sources=HUMAN, with_display=True)
    skips = _skips(project)
    since_of = {uid: m.resumed_at for uid, m in members.items() if m.resumed_at}
    signals = annotator_signals(_records(found, since_of=since_of), skips=skips)
    options = {"pause_below_trust": quality.pause_below_trust, "min_labels": quality.min_labels}
    paused = []
    for user_id, member in members.items():
        sig = signals.get(user_id)
        if sig is None:
            continue
        trust = annotator_trust(sig, **options)
        if trust.judged and trust.trust < quality.pause_below_trust:
            reason = (f"Paused automatically: trust {trust.trust:.2f} is below the project's "
                      f"{quality.pause_below_trust:.2f} after {sig.labels} labels ({trust.reason}).")
            paused.append(set_member_status(actor=None, membership=member,
                                            status=Membership.Status.PAUSED, reason=reason,
                                            automatic=True))
    return paused
