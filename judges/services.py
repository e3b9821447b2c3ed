"""Writes of the judges app: constitutions, judges, judge runs and their labels.

A run is requested (:func:`request_run`: the items chosen, the cost estimated, the row
queued) and executed by the ``judges.run_judge`` task (:func:`execute_run`), batch by
batch: each batch is judged by the backend, then written in one transaction as
``Annotation(source="ai")`` rows with their :class:`~judges.models.JudgeVerdict`, and the
run's progress is saved; a cancelled run stops between batches. AI labels never touch the
assignment engine's counters (``annotations_done``, leases), so they never count as a
human in overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from annotation.models import Annotation, Project
from annotation.services import audit
from rankwise.celery import enqueue_on_commit
from rankwise.errors import Conflict, ValidationFailed

from . import backends, lifecycle, revisions, selectors
from .engine import order
from .engine.sampling import choose, combine
from .engine.types import Comparison, Judgement, Principle
from .models import Constitution, Judge, JudgeRun, JudgeVerdict

MAX_PRINCIPLES = 50
MAX_NAME = 100
MAX_TEXT = 4000
BATCH_SIZE = 16
SELECTIONS = ("all", "unlabelled", "low_agreement", "sample")
# Backends that read both responses in one prompt, so the order shown is drawn per verdict
# (local_lm reads both orders itself; a reward model scores each response alone).
ONE_PROMPT_BACKENDS = (Judge.Backend.OPENAI,)


# --- constitutions ----------------------------------------------------------------------

def validate_principles(principles) -> list[dict]:
    """The principles as stored (``name``, ``question``, ``critique``, ``revision``), or a
    400 naming the first bad field (``principles[2].question``)."""
    if not isinstance(principles, list) or not principles:
        raise ValidationFailed.of_fields({"principles": "Give at least one principle."})
    if len(principles) > MAX_PRINCIPLES:
        raise ValidationFailed.of_fields(
            {"principles": f"At most {MAX_PRINCIPLES} principles, not {len(principles)}."})
    clean, seen = [], set()
    for n, principle in enumerate(principles):
        where = f"principles[{n}]"
        if not isinstance(principle, dict):
            raise ValidationFailed.of_fields({where: "Each principle is an object."})
        unknown = set(principle) - {"name", "question", "critique", "revision"}
        if unknown:
            raise ValidationFailed.of_fields(
                {f"{where}.{sorted(unknown)[0]}": "Unknown field."})
        row = {}
        for field in ("name", "question", "critique", "revision"):
            value = principle.get(field, "")
            if not isinstance(value, str):
                raise ValidationFailed.of_fields({f"{where}.{field}": "Must be text."})
            value = value.strip()
            limit = MAX_NAME if field == "name" else MAX_TEXT
            if len(value) > limit:
                raise ValidationFailed.of_fields(
                    {f"{where}.{field}": f"At most {limit} characters."})
            row[field] = value
        for field in ("name", "question"):
            if not row[field]:
                raise ValidationFailed.of_fields({f"{where}.{field}": "This is required."})
        if row["name"] in seen:
            raise ValidationFailed.of_fields(
                {f"{where}.name": f"Another principle is already named {row['name']!r}."})
        seen.add(row["name"])
        clean.append(row)
    return clean


def publish_constitution(*, actor, project: Project, principles) -> Constitution:
    """A new version of the project's constitution (versions are never edited: labels
    name the version they were judged under)."""
    clean = validate_principles(principles)
    for _attempt in range(3):
        try:
            with transaction.atomic():
                # Lock the project row: two managers publishing at once get versions n and n+1.
                Project.objects.select_for_update().filter(pk=project.pk).first()
                latest = project.constitutions.aggregate(v=Max("version"))["v"] or 0
                constitution = Constitution.objects.create(
                    project=project, version=latest + 1, principles=clean, created_by=actor)
                audit(actor=actor, action="constitution.publish", project=project,
                      target=constitution, version=constitution.version)
                return constitution
        except IntegrityError:
            continue
    raise ValidationFailed.of_fields(
        {"principles": "Another constitution was published at the same time; retry."})


# --- judges -----------------------------------------------------------------------------

def validate_judge(*, backend: str, model: str, base_url: str, path: str) -> None:
    """What each backend needs: ``openai`` a model and an http(s) base URL, ``local_lm`` a
    model folder; ``reward_model`` uses the project's active reward model."""
    if backend not in Judge.Backend.values:
        raise ValidationFailed.of_fields(
            {"backend": f"One of {', '.join(Judge.Backend.values)}."})
    if backend == Judge.Backend.OPENAI:
        if not model:
            raise ValidationFailed.of_fields({"model": "An openai judge needs a model name."})
        if not base_url.startswith(("http://", "https://")):
            raise ValidationFailed.of_fields(
                {"base_url": "An openai judge needs a base URL starting with http:// or "
                             "https://, e.g. http://localhost:8000/v1."})
        if path:
            raise ValidationFailed.of_fields({"path": "Only local_lm judges read a folder."})
    elif backend == Judge.Backend.LOCAL_LM:
        if not path:
            raise ValidationFailed.of_fields({"path": "A local_lm judge needs a model folder."})
        if base_url:
            raise ValidationFailed.of_fields({"base_url": "Only openai judges call a URL."})
    elif base_url or path:
        field = "base_url" if base_url else "path"
        raise ValidationFailed.of_fields(
            {field: "A reward_model judge uses the project's active reward model."})


def create_judge(*, actor, project: Project, name: str, backend: str, model: str = "",
                 base_url: str = "", path: str = "", principles: str = Judge.Principles.SAMPLE,
                 seed: int = 0) -> Judge:
    name, model, base_url, path = (v.strip() for v in (name, model, base_url, path))
    if not name:
        raise ValidationFailed.of_fields({"name": "This is required."})
    if principles not in Judge.Principles.values:
        raise ValidationFailed.of_fields({"principles": "One of sample, all."})
    validate_judge(backend=backend, model=model, base_url=base_url, path=path)
    if project.judges.filter(name=name).exists():
        raise ValidationFailed.of_fields({"name": f"A judge named {name!r} exists already."})
    with transaction.atomic():
        judge = Judge.objects.create(project=project, name=name, backend=backend, model=model,
                                     base_url=base_url, path=path, principles=principles,
                                     seed=seed, created_by=actor)
        audit(actor=actor, action="judge.create", project=project, target=judge,
              backend=backend, model=model)
    return judge


# --- runs -------------------------------------------------------------------------------

def request_run(*, actor, judge: Judge, items="all", limit: int | None = None,
                dry_run: bool = False) -> JudgeRun:
    """Queue a run of ``judge`` over the chosen items; 400 for a bad selection, a project
    whose items are not pairs, or no constitution yet. ``dry_run``: the same checks and the
    same estimate, as an unsaved run (no row, no audit entry, nothing queued), so that the
    cost shown before a run starts is the cost the run is created with."""
    project = judge.project
    constitution, todo, done = _run_plan(judge=judge, items=items, limit=limit)
    run = JudgeRun(
        judge=judge, selection=items, limit=limit, constitution_version=constitution.version,
        item_ids=todo, n_items=len(todo), n_skipped=len(done), created_by=actor,
        estimate=selectors.estimate(judge=judge, constitution=constitution, item_ids=todo,
                                    already_judged=len(done)))
    if dry_run:
        return run
    with transaction.atomic():
        run.save()
        audit(actor=actor, action="judge.run", project=project, target=run,
              judge=judge.pk, n_items=len(todo))
        enqueue_on_commit("judges.run_judge", run.pk)
    return run


def _run_plan(*, judge: Judge, items, limit: int | None) -> tuple[Constitution, list[int],
                                                                  set[int]]:
    """The checks of a run request, then (the current constitution, the item ids to judge,
    the chosen ones the judge already labelled under it). ``sample``: ``limit`` items drawn
    by :func:`selectors.seeded_sample` from those not judged yet."""
    project = judge.project
    if project.responses_per_item != 2:
        raise ValidationFailed.of_fields(
            {"items": f"Judges compare two responses; this project has "
                      f"{project.responses_per_item} per item."})
    constitution = selectors.current_constitution(project=project)
    if constitution is None:
        raise ValidationFailed.of_fields(
            {"items": "Publish a constitution for the project before running a judge."})
    selectors.check_selection(project=project, items=items, limit=limit,
                              selections=SELECTIONS)
    chosen = selectors.selected_items(project=project, selection=items)
    done = selectors.judged_items(judge=judge, constitution=constitution, item_ids=chosen)
    todo = [i for i in chosen if i not in done]
    if items == "sample":
        todo = selectors.seeded_sample(todo, seed=judge.seed, n=limit)
    elif limit is not None:
        todo = todo[:limit]
    return constitution, todo, done


def cancel_run(*, actor, run: JudgeRun) -> JudgeRun:
    """Stop a run between batches (a queued one never starts)."""
    with transaction.atomic():
        run = JudgeRun.objects.select_for_update().get(pk=run.pk)
        if run.status in JudgeRun.FINISHED:
            raise Conflict(f"The run is {run.status} already.")
        run.status = JudgeRun.Status.CANCELLED
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at"])
        audit(actor=actor, action="judge.cancel", project=run.judge.project, target=run)
    return run


def execute_run(*, run_id: int, backend=None, batch_size: int = BATCH_SIZE) -> JudgeRun:
    """Judge a queued run's items, batch by batch. Idempotent: a run that is not queued is
    left alone (its message delivered again while another worker executes it), and an item
    judged meanwhile (same judge, principle and version) is skipped. A run queued again by
    :mod:`judges.recovery` resumes after the last batch its lost attempt wrote; a worker
    that was only slow finds at its next batch that the run is no longer its attempt's, and
    stops without writing. ``backend`` replaces the one the judge row configures
    (benchmarks). A revise run is :func:`judges.revisions.execute_revision_run`'s."""
    if JudgeRun.objects.filter(pk=run_id, kind=JudgeRun.Kind.REVISE).exists():
        return revisions.execute_revision_run(run_id=run_id)
    run = lifecycle.claim(run_id)
    if run is None:
        return JudgeRun.objects.filter(pk=run_id).first()
    judge = run.judge
    own_backend = backend is None
    try:
        constitution = judge.project.constitutions.get(version=run.constitution_version)
        principles = [Principle(**p) for p in constitution.principles]
        if own_backend:
            backend = backends.backend_for(judge)
        ids = list(run.item_ids)
        for start in range(_resume_at(run), len(ids), batch_size):
            # The heartbeat; no row updated: cancelled, or requeued after this attempt was
            # given up for lost.
            if not lifecycle.beat(run):
                return JudgeRun.objects.get(pk=run.pk)
            batch = ids[start:start + batch_size]
            _judge_batch(run, judge, constitution, principles, backend, batch,
                         reached=start + len(batch))
    except Exception as exc:  # recorded on the row: the run's outcome is the API's to show
        return lifecycle.failed(run, exc, "judge run")
    finally:
        if own_backend and hasattr(backend, "close"):
            backend.close()  # the HTTP backend's pooled connections
    return lifecycle.succeeded(run)


def _resume_at(run: JudgeRun) -> int:
    """How many of the run's items earlier attempts wrote (a batch and its progress are
    written together), so the first to judge on this attempt."""
    return round(run.progress * run.n_items)


def _judge_batch(run: JudgeRun, judge: Judge, constitution: Constitution,
                 principles: Sequence[Principle], backend, item_ids: list[int],
                 reached: int) -> None:
    """Judge one batch and write it in one transaction, if the run is still this attempt's;
    ``reached``: how many of the run's items are behind it once it is written (its
    progress). A judge that reads both responses in one prompt is shown them in the order
    :func:`judges.engine.order.is_swapped` draws, and its answers are mapped back to the
    item's positions before they are stored."""
    pairs = selectors.item_pairs(item_ids=item_ids)
    done = selectors.judged_items(judge=judge, constitution=constitution, item_ids=item_ids)
    draws_order = judge.backend in ONE_PROMPT_BACKENDS
    plan = []  # (item id, response ids, principle name, swapped, slice of comparisons)
    comparisons: list[Comparison] = []
    for item_id in item_ids:
        if item_id in done or item_id not in pairs:
            continue
        prompt, response_ids, texts = pairs[item_id]
        chosen = choose(principles, mode=judge.principles, seed=judge.seed, item_id=item_id)
        name = "+".join(p.name for p in chosen)
        swapped = draws_order and order.is_swapped(seed=judge.seed, item_id=item_id,
                                                   principle=name)
        start = len(comparisons)
        comparisons.extend(order.shown(Comparison(prompt, texts[0], texts[1], p), swapped)
                           for p in chosen)
        plan.append((item_id, response_ids, name, swapped, slice(start, len(comparisons))))
    judgements = backend.judge_many(comparisons) if comparisons else []
    with transaction.atomic():
        # Locked: the sweep cannot requeue the run between this check and the writes. A run
        # cancelled during the batch still keeps what was judged (it stops before the next).
        current = JudgeRun.objects.select_for_update().filter(
            pk=run.pk, attempts=run.attempts,
            status__in=[JudgeRun.Status.RUNNING, JudgeRun.Status.CANCELLED]).first()
        if current is None:
            return
        # Another run of this judge may have labelled some items while this batch was judged.
        meanwhile = selectors.judged_items(judge=judge, constitution=constitution,
                                           item_ids=[entry[0] for entry in plan])
        rows = []
        for item_id, response_ids, name, swapped, part in plan:
            if item_id in meanwhile:
                continue
            shown_judgements = judgements[part]
            judgement = order.to_item_order(combine(shown_judgements), swapped)
            rows.append(Row(item_id, response_ids, name, judgement, swapped,
                            order.order_preferences(shown_judgements)))
        skipped = len(item_ids) - len(rows)  # labelled meanwhile, or no longer a pair
        try:
            with transaction.atomic():
                labelled = _record_many(run, judge, constitution, rows)
        except IntegrityError:  # a race after the check: row by row, skipping the taken ones
            labelled = []
            for row in rows:
                try:
                    with transaction.atomic():
                        labelled.append(_record(run, judge, constitution, row))
                except IntegrityError:
                    skipped += 1
        current.n_judged += sum(labelled)
        current.n_unparseable += len(labelled) - sum(labelled)
        current.n_skipped += skipped
        current.progress = min(1.0, reached / run.n_items) if run.n_items else 1.0
        current.heartbeat_at = timezone.now()
        current.save(update_fields=["n_judged", "n_unparseable", "n_skipped", "progress",
                                    "heartbeat_at"])


class Row(NamedTuple):
    """One verdict to write, about the item's positions whatever the order shown."""

    item_id: int
    response_ids: list[int]
    principle: str
    judgement: Judgement
    swapped: bool
    order_preferences: list[float] | None


def _label(judge: Judge, row: Row) -> Annotation | None:
    """The unsaved label of a verdict, or None for an unparseable one."""
    if row.judgement.verdict not in ("A", "B", "tie"):
        return None
    a, b = row.response_ids
    ranking = {"A": [[a], [b]], "B": [[b], [a]], "tie": [[a, b]]}[row.judgement.verdict]
    return Annotation(project_id=judge.project_id, item_id=row.item_id,
                      source=Annotation.Source.AI, ranking=ranking)


def _verdict(run: JudgeRun, judge: Judge, constitution: Constitution, row: Row,
             annotation: Annotation | None) -> JudgeVerdict:
    j = row.judgement
    return JudgeVerdict(
        annotation=annotation, judge=judge, run=run, item_id=row.item_id,
        principle=row.principle, constitution_version=constitution.version,
        preference=j.preference, verdict=j.verdict, raw=j.raw, error=j.error,
        swapped=row.swapped, order_preferences=row.order_preferences)


def _record_many(run: JudgeRun, judge: Judge, constitution: Constitution,
                 rows: Sequence[Row]) -> list[bool]:
    """Write the batch's labels and verdicts in two inserts (PostgreSQL and SQLite return
    the new labels' ids); per row, True for a label."""
    labels = [_label(judge, row) for row in rows]
    Annotation.objects.bulk_create([label for label in labels if label is not None])
    JudgeVerdict.objects.bulk_create(
        [_verdict(run, judge, constitution, row, label) for row, label in
         zip(rows, labels, strict=True)])
    return [label is not None for label in labels]


def _record(run: JudgeRun, judge: Judge, constitution: Constitution, row: Row) -> bool:
    """Write one verdict (and its label, when there is a verdict); True for a label."""
    annotation = _label(judge, row)
    if annotation is not None:
        annotation.save()
    _verdict(run, judge, constitution, row, annotation).save()
    return annotation is not None
