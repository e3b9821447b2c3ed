"""Reads of the judges app: the current constitution, which items a run judges, and how
far a judge agrees with people (:func:`agreement`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.db.models import QuerySet

from annotation.models import Item, Project, Response
from annotation.quality.agreement import cohen_kappa
from annotation.quality.consensus import majority_ranking, pair_votes
from annotation.quality.labels import HUMAN, HUMAN_AND_IMPORT, counted_labels
from rankwise.errors import ValidationFailed
from training.prompts import prompt_text as reward_model_prompt

from . import trust as trust_math
from .engine.calibration import expected_calibration_error
from .models import Constitution, Judge, JudgeRun, JudgeVerdict

LOW_AGREEMENT = 0.75  # consensus agreement below this: people disagree on the item
VOTE_OF_VERDICT = {"A": 1, "tie": 0, "B": -1}  # response A is the item's position 0


def current_constitution(*, project: Project) -> Constitution | None:
    return project.constitutions.order_by("-version").first()


def judges_of(*, project: Project) -> QuerySet[Judge]:
    return project.judges.order_by("id")


def runs_of(*, judge: Judge) -> QuerySet[JudgeRun]:
    return judge.runs.order_by("-id")


MAX_IDS = 10_000  # item ids a run may name


def check_selection(*, project: Project, items, limit, selections: tuple[str, ...]) -> None:
    """A run's ``items`` and ``limit`` as a request gives them, or a 400 naming the field:
    one of ``selections`` or a list of this project's item ids; ``sample`` needs a limit."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 1):
        raise ValidationFailed.of_fields({"limit": "A whole number of at least 1."})
    if isinstance(items, list):
        if not items or len(items) > MAX_IDS or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in items):
            raise ValidationFailed.of_fields({"items": f"A list of 1 to {MAX_IDS} item ids."})
        missing = set(items) - set(project.items.filter(pk__in=items)
                                   .values_list("pk", flat=True))
        if missing:
            raise ValidationFailed.of_fields(
                {"items": f"Not items of this project: {sorted(missing)[:10]}."})
    elif items not in selections:
        raise ValidationFailed.of_fields(
            {"items": f"One of {', '.join(selections)}, or a list of item ids."})
    if items == "sample" and limit is None:
        raise ValidationFailed.of_fields({"limit": "Say how many items the sample draws."})


def selected_items(*, project: Project, selection) -> list[int]:
    """Item ids in id order: ``all`` and ``unlabelled`` (no human or imported label yet)
    leave gold items out (they measure people); ``low_agreement``: items whose people
    disagree (consensus agreement below ``LOW_AGREEMENT``); ``sample``: every non-gold item,
    the pool :func:`seeded_sample` draws from; a list: those items. The named selections
    also leave out synthetic pairs (critique and revise): their label is the judge's own."""
    if isinstance(selection, list):
        return sorted(set(project.items.filter(pk__in=selection).values_list("pk", flat=True)))
    items = (project.items.filter(is_gold=False).exclude(responses__synthetic=True)
             .order_by("id"))
    if selection == "unlabelled":
        items = items.filter(annotations_done=0, imported_labels=0)
    if selection == "low_agreement":
        found = counted_labels(project=project, sources=HUMAN)
        low = set()
        for item_id, labels in found.by_item().items():
            if len(labels) >= 2:
                _tiers, share = majority_ranking([label.tiers for label in labels],
                                                 found.items[item_id].k)
                if share < LOW_AGREEMENT:
                    low.add(item_id)
        items = items.filter(pk__in=low)
    return list(items.values_list("pk", flat=True))


def seeded_sample(item_ids: Iterable[int], *, seed: int, n: int) -> list[int]:
    """``n`` of the items, in id order, drawn as the principles are
    (:func:`judges.engine.sampling.choose`): each item ranked by SHA-256 of
    ``"{seed}:{item id}"``, the first ``n`` kept. The same seed and pool give the same
    sample on any machine, and a larger ``n`` keeps the smaller sample's items."""
    ranked = sorted(item_ids, key=lambda item_id: hashlib.sha256(
        f"{seed}:{item_id}".encode()).digest())
    return sorted(ranked[:n])


def judged_items(*, judge: Judge, constitution: Constitution,
                 item_ids: Iterable[int]) -> set[int]:
    """The items the judge already labelled under this constitution version."""
    return set(JudgeVerdict.objects.filter(
        judge=judge, constitution_version=constitution.version, annotation__isnull=False,
        item_id__in=list(item_ids)).values_list("item_id", flat=True))


def item_pairs(*, item_ids: Iterable[int]) -> dict[int, tuple[str, list[int], list[str]]]:
    """``{item id: (prompt text, [response ids], [response texts])}`` by position, for the
    items with exactly two responses."""
    ids = list(item_ids)
    responses: dict[int, list[tuple[int, str]]] = {}
    for item_id, pk, text in (Response.objects.filter(item_id__in=ids)
                              .order_by("item_id", "position")
                              .values_list("item_id", "pk", "text")):
        responses.setdefault(item_id, []).append((pk, text))
    out = {}
    for item in Item.objects.filter(pk__in=ids).only("pk", "prompt", "messages"):
        pair = responses.get(item.pk, [])
        if len(pair) == 2:
            out[item.pk] = (prompt_text(item), [p for p, _ in pair], [t for _, t in pair])
    return out


def prompt_text(item: Item) -> str:
    """The prompt as the reward model reads it: one rule, ``training.prompts.prompt_text``."""
    return reward_model_prompt(prompt=item.prompt, messages=item.messages)


def estimate(*, judge: Judge, constitution: Constitution, item_ids: list[int],
             already_judged: int) -> dict:
    """What a run will cost before it starts: comparisons (calls to the model) and the
    characters of prompt and responses they send."""
    per_item = 1 if judge.principles == Judge.Principles.SAMPLE else len(
        constitution.principles)
    chars = sum(len(prompt) + sum(len(t) for t in texts)
                for prompt, _ids, texts in item_pairs(item_ids=item_ids).values())
    return {"items": len(item_ids), "comparisons": per_item * len(item_ids),
            "prompt_chars": per_item * chars, "already_judged": already_judged}


def agreement(*, judge: Judge) -> dict:
    """The judge's labels against the consensus of people's (human and imported) labels,
    on the items that have both. ``percent_agreement``: share of items where the judge's
    verdict (A, B or tie) equals the consensus; ``cohen_kappa``: the same, corrected for
    chance; ``ece``: calibration of the soft preference on items people did not tie;
    ``human_ceiling``: how often one person matches the consensus of all on items with two
    or more human labels (what no judge can be expected to beat); ``by_principle``: the
    first four figures for the labels judged under each principle; ``reliability``: the
    reliability diagram of P(A is better) on items people did not tie; ``position_bias``:
    how often the response shown first wins (None, with ``position_bias_note``, for a
    backend that has no position)."""
    return {**judge_figures(judge=judge), "human_ceiling": human_ceiling(project=judge.project)}


def trust(*, project: Project) -> dict:
    """Every judge of the project with :func:`agreement`'s figures; the human ceiling once."""
    return {"project": project.pk, "human_ceiling": human_ceiling(project=project),
            "judges": [{"id": judge.pk, "name": judge.name, "backend": judge.backend,
                        "model": judge.model, **judge_figures(judge=judge)}
                       for judge in judges_of(project=project)]}


def judge_figures(*, judge: Judge) -> dict:
    """:func:`agreement` without the human ceiling (a figure of the project's people)."""
    verdicts = {}
    for item_id, verdict, preference, principle in (
            _counted_verdicts(judge).order_by("id")
            .values_list("item_id", "verdict", "preference", "principle")):
        verdicts[item_id] = (VOTE_OF_VERDICT[verdict], preference, principle)  # newest counts
    found = counted_labels(project=judge.project, sources=HUMAN_AND_IMPORT,
                           item_ids=verdicts)
    rows = []  # (people's vote, the judge's vote, its preference, its principle)
    for item_id, labels in found.by_item().items():
        k = found.items[item_id].k
        if k != 2:
            continue
        tiers, _share = majority_ranking([label.tiers for label in labels], k)
        rows.append((pair_votes(tiers, 2)[(0, 1)], *verdicts[item_id]))
    by_principle = {}
    for name in sorted({row[3] for row in rows}):
        by_principle[name] = _figures([row for row in rows if row[3] == name])
    calibrated = _calibrated(rows)
    bias = position_bias(judge=judge)
    return {**_figures(rows), "by_principle": by_principle,
            "reliability": trust_math.reliability(*zip(*calibrated, strict=True))
            if calibrated else [],
            "position_bias": bias,
            "position_bias_note": trust_math.NO_POSITION if bias is None else None}


def position_bias(*, judge: Judge) -> dict | None:
    """How often the response shown first wins, over the judge's counted labels (see
    :mod:`judges.trust`); None for a reward model, which has no position."""
    verdicts = _counted_verdicts(judge)
    if judge.backend == Judge.Backend.REWARD_MODEL:
        return None
    if judge.backend == Judge.Backend.LOCAL_LM:
        return trust_math.bias_of_both_orders(
            verdicts.filter(order_preferences__isnull=False)
            .values_list("order_preferences", flat=True))
    return trust_math.bias_of_verdicts(verdicts.values_list("verdict", "swapped"))


def _counted_verdicts(judge: Judge) -> QuerySet[JudgeVerdict]:
    """The judge's verdicts that are labels a manager has not excluded."""
    return JudgeVerdict.objects.filter(judge=judge, annotation__isnull=False,
                                       annotation__excluded=False)


def _calibrated(rows: list[tuple]) -> list[tuple[float, int]]:
    """(P(A is better), 1 if people chose A else 0) on the items people did not tie."""
    return [(row[2], 1 if row[0] > 0 else 0) for row in rows
            if row[0] != 0 and row[2] is not None]


def _figures(rows: list[tuple]) -> dict:
    people = [row[0] for row in rows]
    model = [row[1] for row in rows]
    calibrated = _calibrated(rows)
    n = len(rows)
    return {
        "n_items": n,
        "percent_agreement": sum(a == b for a, b in zip(people, model, strict=True)) / n
        if n else None,
        "cohen_kappa": _kappa(people, model),
        "ece": expected_calibration_error(*zip(*calibrated, strict=True)) if calibrated
        else None,
    }


def _kappa(a: list[int], b: list[int]) -> float | None:
    if not a:
        return None
    try:
        value = cohen_kappa(a, b)
    except (ValueError, ZeroDivisionError):
        return None
    return None if value != value else float(value)  # NaN: one category only


def human_ceiling(*, project: Project) -> float | None:
    """Mean over items with two or more human labels of the share of labels that match
    the item's consensus (``majority_ranking``'s agreement)."""
    found = counted_labels(project=project, sources=HUMAN)
    shares = [majority_ranking([label.tiers for label in labels], found.items[item_id].k)[1]
              for item_id, labels in found.by_item().items() if len(labels) >= 2]
    return sum(shares) / len(shares) if shares else None
