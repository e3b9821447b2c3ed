"""Judge runs whose worker died: the beat sweep (judges.recovery) requeues a running run
gone silent, up to three attempts, then fails it; a live run and a message delivered again
are left alone. The judge model is a real OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from annotation.models import Annotation
from judges import backends, recovery, services
from judges.celery_tasks import recover_runs, run_judge
from judges.models import JudgeRun, JudgeVerdict
from tests.judges_engine.test_http_backend import serve

from .conftest import openai_judge

pytestmark = pytest.mark.django_db


class WorkerDied(BaseException):
    """What killing the worker looks like from inside it: nothing records the failure."""


class DiesAfter:
    """The judge's own backend, until the worker dies after ``batches`` batches."""

    def __init__(self, judge, batches: int):
        self.inner, self.batches = backends.backend_for(judge), batches

    def judge_many(self, comparisons):
        if self.batches == 0:
            raise WorkerDied
        self.batches -= 1
        return self.inner.judge_many(comparisons)


def lose_worker(run: JudgeRun, judge, *, batches: int) -> JudgeRun:
    """One attempt at ``run`` whose worker dies after ``batches`` batches of 2 items; its
    last heartbeat is then older than the sweep allows."""
    with pytest.raises(WorkerDied):
        services.execute_run(run_id=run.pk, backend=DiesAfter(judge, batches), batch_size=2)
    old = timezone.now() - timedelta(minutes=recovery.silent_minutes() + 1)
    JudgeRun.objects.filter(pk=run.pk).update(heartbeat_at=old)
    return JudgeRun.objects.get(pk=run.pk)


def test_the_sweep_is_on_the_standing_schedule_on_the_default_queue():
    entry = settings.CELERY_BEAT_SCHEDULE["recover-judge-runs"]
    assert entry["task"] == recover_runs.name == "judges.recover_runs"
    assert entry["options"]["queue"] == "celery"  # runs while every judges worker is down


def test_a_silent_run_is_requeued_and_completes_without_judging_an_item_twice(
        world, django_capture_on_commit_callbacks):
    project, users, _items, _constitution = world
    with serve() as (url, endpoint):
        judge = openai_judge(project, users["manager"], url)
        run = services.request_run(actor=users["manager"], judge=judge)
        run = lose_worker(run, judge, batches=1)
        assert (run.status, run.attempts, run.n_judged, run.progress) == ("running", 1, 2, 0.5)
        assert len(endpoint.requests) == 2
        # The sweep requeues it; the message it sends runs at once (eager tasks).
        with django_capture_on_commit_callbacks(execute=True) as sent:
            assert recover_runs.apply().get() == {"requeued": 1, "failed": 0}
        assert len(sent) == 1
        run.refresh_from_db()
        # The second attempt judged only the two items the first one had not written.
        assert len(endpoint.requests) == 4
    assert (run.status, run.attempts, run.n_items, run.n_judged, run.n_skipped,
            run.progress) == ("succeeded", 2, 4, 4, 0, 1.0)
    assert "Attempt 1 stopped reporting" in run.error
    assert "queued again (attempt 2 of 3)" in run.error
    assert Annotation.objects.filter(source="ai").count() == 4
    assert sorted(JudgeVerdict.objects.values_list("item_id", flat=True)) == sorted(run.item_ids)


def test_after_three_lost_attempts_the_run_is_failed(world, django_capture_on_commit_callbacks):
    project, users, _items, _constitution = world
    with serve() as (url, endpoint):
        judge = openai_judge(project, users["manager"], url)
        run = services.request_run(actor=users["manager"], judge=judge)
        for attempt, batches in ((1, 1), (2, 0)):
            run = lose_worker(run, judge, batches=batches)
            assert run.attempts == attempt
            with django_capture_on_commit_callbacks() as sent:  # sent, not run
                assert recovery.sweep() == {"requeued": 1, "failed": 0}
            assert len(sent) == 1
            assert JudgeRun.objects.get(pk=run.pk).status == "queued"
        run = lose_worker(run, judge, batches=0)
        with django_capture_on_commit_callbacks() as sent:
            assert recovery.sweep() == {"requeued": 0, "failed": 1}
        assert sent == []  # no fourth attempt
        # Another sweep, or the failed run's message delivered again, changes nothing.
        assert recovery.sweep() == {"requeued": 0, "failed": 0}
        assert run_judge.apply(args=[run.pk]).get() == "failed"
    run.refresh_from_db()
    assert (run.status, run.attempts, run.n_judged) == ("failed", 3, 2)
    assert run.finished_at is not None
    assert "lost its worker on each of its 3 attempts" in run.error
    assert len(endpoint.requests) == 2  # the one batch written, never judged again
    assert JudgeVerdict.objects.count() == 2


def test_a_live_run_and_a_message_delivered_again_are_left_alone(world):
    project, users, _items, _constitution = world
    with serve() as (url, endpoint):
        judge = openai_judge(project, users["manager"], url)
        live = services.request_run(actor=users["manager"], judge=judge)
        lose_worker(live, judge, batches=1)
        recent = timezone.now() - timedelta(minutes=recovery.silent_minutes() - 1)
        JudgeRun.objects.filter(pk=live.pk).update(heartbeat_at=recent)
        finished = services.request_run(actor=users["manager"], judge=judge, items="all")
        JudgeRun.objects.filter(pk=finished.pk).update(
            status="succeeded", heartbeat_at=timezone.now() - timedelta(hours=5))
        assert recovery.sweep() == {"requeued": 0, "failed": 0}
        # Its message delivered again, while this worker still executes it: ignored.
        assert run_judge.apply(args=[live.pk]).get() == "running"
        assert len(endpoint.requests) == 2
    live.refresh_from_db()
    assert (live.status, live.attempts, live.heartbeat_at, live.error) == (
        "running", 1, recent, "")
    assert JudgeRun.objects.get(pk=finished.pk).status == "succeeded"


def test_a_slow_worker_given_up_for_lost_writes_nothing(world):
    """The sweep requeues the run while its first worker waits on the model: that worker's
    batch is not written, and it stops; the new attempt judges every item once."""
    project, users, _items, _constitution = world
    with serve() as (url, endpoint):
        judge = openai_judge(project, users["manager"], url)
        run = services.request_run(actor=users["manager"], judge=judge)
        inner = backends.backend_for(judge)

        class GivenUpDuringTheCall:
            def judge_many(self, comparisons):
                answers = inner.judge_many(comparisons)
                later = timezone.now() + timedelta(minutes=recovery.silent_minutes() + 1)
                assert recovery.sweep(now=later) == {"requeued": 1, "failed": 0}
                return answers

        stale = services.execute_run(run_id=run.pk, backend=GivenUpDuringTheCall(),
                                     batch_size=2)
        assert (stale.status, stale.n_judged, stale.attempts) == ("queued", 0, 1)
        assert not JudgeVerdict.objects.exists()
        again = services.execute_run(run_id=run.pk, batch_size=2)
    assert (again.status, again.attempts, again.n_judged) == ("succeeded", 2, 4)
    assert JudgeVerdict.objects.count() == 4
    assert len(endpoint.requests) == 6  # the discarded batch, then the four items
