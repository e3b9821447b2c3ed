"""Critique-and-revise runs (SL-CAI): a judge rewrites responses under the constitution and
each rewrite becomes a synthetic preference pair.

A revision run is a :class:`~judges.models.JudgeRun` of kind ``revise``, so it shares the
judge runs' progress, cancellation, heartbeat, recovery (``judges.recovery`` requeues it on
the same ``judges.run_judge`` task, which dispatches on the kind) and API. Per chosen item
(K=2 projects only) each of its two responses goes through
:func:`judges.engine.critique.critique_and_revise`: ``rounds`` rounds, each drawing one of
the constitution's principles that have both a critique and a revision request, seeded by
the judge's seed and ``"{item id}:{response position}"``.

Each response whose last good revision exists becomes a new item of the same project: the
same prompt, the original text at position 0 and the revision at position 1
(``Response.synthetic``, ``Response.origin`` = the original), with ``meta["synthetic"]``
saying where it came from. The pair is an AI label (``Annotation(source="ai")``, the
revision ranked first) with its :class:`~judges.models.JudgeVerdict` (verdict ``B``,
preference 0.0, the rounds in ``raw``). So the pairs reach export, training and consensus
only where a ``source=ai`` filter asks for AI labels.

Synthetic items are made closed (``queue_state`` NULL), so the assignment engine does not
offer them to annotators when it picks open items; they are labelled by the judge, not by
people. (The engine's reopening of closed items with a free slot must leave out items with
a synthetic response for this to hold once the rest of the queue is done.)

A round that failed (empty critique or revision, the text unchanged, the endpoint down) is
recorded with its reason and never kept as text; a response where no round succeeded gets
a verdict without a label (``unparseable``, on the original item) and counts in
``n_unparseable``. Idempotent: a response this judge already revised under this
constitution version is skipped (``n_skipped``), and so is one whose pair the project
already holds (the content hash of :mod:`annotation.imports.formats`). For a revise run
``n_items`` counts items, ``n_judged`` the pairs made, ``n_unparseable`` and ``n_skipped``
responses.
"""

from __future__ import annotations

import json

from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation.imports.formats import content_hash
from annotation.models import Annotation, Item, Response
from annotation.services import audit
from rankwise.celery import enqueue_on_commit
from rankwise.errors import ValidationFailed

from . import backends, lifecycle, selectors
from .engine import prompts
from .engine.critique import Revision, critique_and_revise, final_text
from .engine.types import Principle
from .models import Constitution, Judge, JudgeRun, JudgeVerdict

SELECTIONS = ("all", "unlabelled", "sample")
MAX_ROUNDS = 4
CALLS_PER_ROUND = 2  # the critique, then the revision


# --- reads the services below rely on --------------------------------------------------

def revising_principles(constitution: Constitution) -> list[Principle]:
    """The principles that can revise: those with a critique and a revision request."""
    return [Principle(**p) for p in constitution.principles
            if p.get("critique", "").strip() and p.get("revision", "").strip()]


def revised_responses(*, judge: Judge, constitution_version: int,
                      response_ids) -> set[int]:
    """The responses this judge already turned into a synthetic pair under this version."""
    return set(Response.objects.filter(
        synthetic=True, origin_id__in=list(response_ids),
        item__meta__synthetic__judge=judge.pk,
        item__meta__synthetic__constitution_version=constitution_version,
    ).values_list("origin_id", flat=True))


def _responses_of(item_ids) -> dict[int, list[Response]]:
    """``{item id: [its two responses by position]}`` for the items with exactly two."""
    found: dict[int, list[Response]] = {}
    for response in Response.objects.filter(item_id__in=list(item_ids)).order_by(
            "item_id", "position"):
        found.setdefault(response.item_id, []).append(response)
    return {item_id: pair for item_id, pair in found.items() if len(pair) == 2}


# --- requests --------------------------------------------------------------------------

def _check(*, judge: Judge, items, limit, rounds) -> tuple[Constitution, list[Principle]]:
    """The checks of a request, each a 400 naming its field; the constitution and the
    principles that revise."""
    project = judge.project
    if judge.backend == Judge.Backend.REWARD_MODEL:
        raise ValidationFailed.of_fields(
            {"backend": "A reward_model judge scores responses but cannot rewrite them; "
                        "use an openai or local_lm judge."})
    if project.responses_per_item != 2:
        raise ValidationFailed.of_fields(
            {"items": f"Revisions make pairs of two responses; this project has "
                      f"{project.responses_per_item} per item."})
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not (
            1 <= rounds <= MAX_ROUNDS):
        raise ValidationFailed.of_fields(
            {"rounds": f"A whole number from 1 to {MAX_ROUNDS}."})
    selectors.check_selection(project=project, items=items, limit=limit,
                              selections=SELECTIONS)
    constitution = selectors.current_constitution(project=project)
    if constitution is None:
        raise ValidationFailed.of_fields(
            {"principles": "Publish a constitution for the project before revising."})
    principles = revising_principles(constitution)
    if not principles:
        raise ValidationFailed.of_fields(
            {"principles": "No principle of the current constitution has both a critique "
                           "and a revision request; add them to revise."})
    return constitution, principles


def _plan(*, judge: Judge, constitution: Constitution, items, limit) -> tuple[
        list[int], set[int], dict[int, list[Response]]]:
    """(the item ids to revise, the chosen responses already revised, the items'
    responses). Synthetic items are never revised again."""
    chosen = selectors.selected_items(project=judge.project, selection=items)
    synthetic = set(Item.objects.filter(pk__in=chosen, meta__has_key="synthetic")
                    .values_list("pk", flat=True))
    pairs = _responses_of(i for i in chosen if i not in synthetic)
    done = revised_responses(judge=judge, constitution_version=constitution.version,
                             response_ids=[r.pk for pair in pairs.values() for r in pair])
    todo = [i for i in chosen if i in pairs and any(r.pk not in done for r in pairs[i])]
    if items == "sample":
        todo = selectors.seeded_sample(todo, seed=judge.seed, n=limit)
    elif limit is not None:
        todo = todo[:limit]
    return todo, done, pairs


def estimate(*, todo: list[int], rounds: int, pairs: dict[int, list[Response]],
             done: set[int]) -> dict:
    """What a run will cost before it starts: the responses to revise, the calls to the
    model (a critique and a revision per response per round) and the characters of prompt
    and response text those calls send (at least: the model's own critiques come on top);
    ``already_revised``: the chosen responses skipped."""
    texts = {item.pk: selectors.prompt_text(item)
             for item in Item.objects.filter(pk__in=todo).only("pk", "prompt", "messages")}
    responses = [(i, r) for i in todo for r in pairs[i] if r.pk not in done]
    chars = sum(len(texts[i]) + len(r.text) for i, r in responses)
    return {"items": len(todo), "responses": len(responses),
            "calls": CALLS_PER_ROUND * rounds * len(responses),
            "prompt_chars": CALLS_PER_ROUND * rounds * chars,
            "already_revised": len(done)}


def request_revision_run(*, actor, judge: Judge, items="all", limit: int | None = None,
                         rounds: int = 1, dry_run: bool = False):
    """Queue a critique-and-revise run of ``judge`` over the chosen items (a
    :class:`JudgeRun` of kind ``revise``), or with ``dry_run`` only say what it would cost:
    ``{"estimate": {...}, "n_items": n}``, nothing stored. 400 naming the field for a
    reward-model judge (``backend``), ``rounds`` outside 1..4, a project whose items are
    not pairs (``items``), or no principle that can revise (``principles``)."""
    constitution, _principles = _check(judge=judge, items=items, limit=limit, rounds=rounds)
    todo, done, pairs = _plan(judge=judge, constitution=constitution, items=items,
                              limit=limit)
    cost = estimate(todo=todo, rounds=rounds, pairs=pairs, done=done)
    if dry_run:
        return {"estimate": cost, "n_items": len(todo)}
    with transaction.atomic():
        run = JudgeRun.objects.create(
            judge=judge, kind=JudgeRun.Kind.REVISE, rounds=rounds, selection=items,
            limit=limit, constitution_version=constitution.version, item_ids=todo,
            n_items=len(todo), n_skipped=len(done), estimate=cost, created_by=actor)
        audit(actor=actor, action="judge.revise", project=judge.project, target=run,
              judge=judge.pk, n_items=len(todo), rounds=rounds)
        enqueue_on_commit("judges.run_judge", run.pk)
    return run


# --- execution -------------------------------------------------------------------------

def execute_revision_run(*, run_id: int, complete=None) -> JudgeRun | None:
    """Revise a queued revise run's items, one item at a time (the heartbeat, and the
    point where a cancelled or requeued run stops). Idempotent as
    :func:`judges.services.execute_run` is: a run that is not queued is left alone, a
    requeued one resumes after the last item written. ``complete`` replaces the judge's
    own generator (:func:`judges.backends.generator_for`)."""
    run = lifecycle.claim(run_id)
    if run is None:
        return JudgeRun.objects.filter(pk=run_id).first()
    judge = run.judge
    close = None
    try:
        constitution = judge.project.constitutions.get(version=run.constitution_version)
        principles = revising_principles(constitution)
        if not principles:
            raise ValueError(f"constitution v{constitution.version} has no principle with "
                             f"a critique and a revision request")
        if complete is None:
            complete, close = backends.generator_for(judge)
        ids = list(run.item_ids)
        for n in range(round(run.progress * run.n_items), len(ids)):
            if not lifecycle.beat(run):
                return JudgeRun.objects.get(pk=run.pk)  # cancelled, or requeued
            _revise_item(run, judge, constitution, principles, complete, ids[n],
                         reached=n + 1)
    except Exception as exc:  # recorded on the row: the run's outcome is the API's to show
        return lifecycle.failed(run, exc, "revision run")
    finally:
        if close is not None:
            close()
    return lifecycle.succeeded(run)


def _revise_item(run: JudgeRun, judge: Judge, constitution: Constitution,
                 principles: list[Principle], complete, item_id: int, reached: int) -> None:
    """Revise one item's responses, then write what came of them in one transaction if
    the run is still this attempt's."""
    item = Item.objects.filter(pk=item_id).first()
    pair = _responses_of([item_id]).get(item_id) if item is not None else None
    outcomes: list[tuple[Response, list[Revision]]] = []
    skipped = 0
    if pair is None:
        skipped = 2  # deleted, or no longer a pair
    else:
        done = revised_responses(judge=judge, constitution_version=constitution.version,
                                 response_ids=[r.pk for r in pair])
        prompt = selectors.prompt_text(item)
        for response in pair:
            if response.pk in done:
                skipped += 1
                continue
            outcomes.append((response, critique_and_revise(
                complete, prompt, response.text, principles, rounds=run.rounds,
                seed=judge.seed, item_id=f"{item_id}:{response.position}")))
    with transaction.atomic():
        # Locked: the sweep cannot requeue the run between this check and the writes; a run
        # cancelled while the item was revised keeps it.
        current = JudgeRun.objects.select_for_update().filter(
            pk=run.pk, attempts=run.attempts,
            status__in=[JudgeRun.Status.RUNNING, JudgeRun.Status.CANCELLED]).first()
        if current is None:
            return
        made = failed = 0
        for response, revisions in outcomes:
            final = final_text(revisions)
            if final is None or final == prompts.clean(response.text):
                _record_failure(run, judge, constitution, item, response, revisions)
                failed += 1
                continue
            try:
                with transaction.atomic():
                    _record_pair(run, judge, constitution, item, response, revisions, final)
            except IntegrityError:  # the project holds this pair already
                skipped += 1
                continue
            made += 1
        current.n_judged += made
        current.n_unparseable += failed
        current.n_skipped += skipped
        current.progress = min(1.0, reached / run.n_items) if run.n_items else 1.0
        current.heartbeat_at = timezone.now()
        current.save(update_fields=["n_judged", "n_unparseable", "n_skipped", "progress",
                                    "heartbeat_at"])


def _log(revisions: list[Revision]) -> list[dict]:
    """The rounds as kept: a failed round keeps its critique and reason, never its text."""
    return [{"round": r.round, "principle": r.principle, "critique": r.critique,
             "revision": "" if r.failed else r.revision, "failed": r.failed,
             "reason": r.reason} for r in revisions]


def _principle_names(revisions: list[Revision], *, good_only: bool) -> str:
    names = [r.principle for r in revisions if not (good_only and r.failed)]
    return "+".join(dict.fromkeys(names))[:500]


def _reasons(revisions: list[Revision]) -> str:
    return "; ".join(f"round {r.round}: {r.reason}" for r in revisions if r.failed)


def _record_failure(run: JudgeRun, judge: Judge, constitution: Constitution, item: Item,
                    response: Response, revisions: list[Revision]) -> None:
    """No round succeeded: a verdict on the original item, without a label."""
    reason = _reasons(revisions) or "the revisions came back to the original text"
    JudgeVerdict.objects.create(
        annotation=None, judge=judge, run=run, item=item,
        principle=_principle_names(revisions, good_only=False),
        constitution_version=constitution.version, preference=None, verdict="unparseable",
        raw=json.dumps({"origin_response": response.pk, "rounds": _log(revisions)}),
        error=reason)


def _record_pair(run: JudgeRun, judge: Judge, constitution: Constitution, item: Item,
                 original: Response, revisions: list[Revision], final: str) -> Item:
    """The synthetic item (original at position 0, the revision at 1), its AI label (the
    revision first) and the verdict behind it."""
    texts = [original.text, final]
    digest = content_hash(prompt=None if item.messages else item.prompt,
                          messages=item.messages, responses=texts)
    log = _log(revisions)
    synthetic = Item.objects.create(
        project_id=item.project_id, prompt=item.prompt, messages=item.messages,
        content_hash=digest, queue_state=None,
        meta={"synthetic": {
            "origin_item": item.pk, "origin_response": original.pk, "judge": judge.pk,
            "run": run.pk, "constitution_version": constitution.version,
            "principles": [r.principle for r in revisions], "rounds": run.rounds,
            "critiques": [{k: row[k] for k in ("round", "principle", "critique", "failed",
                                                "reason")} for row in log]}})
    kept = Response.objects.create(item=synthetic, position=0, text=original.text,
                                   model=original.model)
    revised = Response.objects.create(
        item=synthetic, position=1, text=final, synthetic=True, origin=original,
        model=f"revision by judge {judge.name}"[:200])
    annotation = Annotation.objects.create(
        project_id=item.project_id, item=synthetic, source=Annotation.Source.AI,
        ranking=[[revised.pk], [kept.pk]])
    JudgeVerdict.objects.create(
        annotation=annotation, judge=judge, run=run, item=synthetic,
        principle=_principle_names(revisions, good_only=True),
        constitution_version=constitution.version, preference=0.0, verdict="B",
        raw=json.dumps({"origin_response": original.pk, "rounds": log}),
        error=_reasons(revisions))
    return synthetic

