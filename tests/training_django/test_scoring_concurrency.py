"""The first scoring and feedback calls of a fresh process, from several threads at once:
each of them imports torch and transformers and loads the model, and all must succeed
(two threads importing transformers together once saw a half-initialised module:
``cannot import name 'AutoModel'``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from annotation.assignment import services as engine
from annotation.models import Item
from training import runs

from ..conftest import database_url_for_tests
from .conftest import add_pairs, curt, helpful, prompt_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
THREADS = 8

FIRST_CALLS = """
import json, sys, threading
import django

django.setup()
from django.contrib.auth import get_user_model
from django.db import connection

from annotation.models import Project
from training import loader, scoring


class CountingLoader:
    # training.loader as scoring sees it, counting the models loaded.
    def __init__(self):
        self.loads, self.lock = 0, threading.Lock()

    def reward(self):
        return self

    def load(self, *args, **kwargs):
        with self.lock:
            self.loads += 1
        return loader.reward().load(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(loader.reward(), name)


scoring.loader = counting = CountingLoader()
project_id, user_id, assignment_id, n = (int(a) for a in sys.argv[1:5])
fresh = not any(name in sys.modules for name in ("torch", "transformers", "training.reward"))
project = Project.objects.get(pk=project_id)
user = get_user_model().objects.get(pk=user_id)
barrier = threading.Barrier(n)
results = [None] * n


def first_call(i):
    barrier.wait()
    try:
        if i % 2:
            scoring.feedback_for(assignment_id=assignment_id, user=user)
        else:
            scoring.score_texts(project=project, prompt="How?", responses=["Like so.", "No."])
        results[i] = "ok"
    except Exception as exc:
        results[i] = f"{type(exc).__name__}: {exc}"
    finally:
        connection.close()


threads = [threading.Thread(target=first_call, args=(i,)) for i in range(n)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"fresh": fresh, "results": results, "loads": counting.loads}))
"""


@pytest.mark.django_db(transaction=True)
def test_first_scoring_and_feedback_calls_in_several_threads_all_succeed(labelled, tmp_path):
    project, users = labelled
    run = runs.execute_run(run_id=runs.request_training(project=project, dispatch=False).pk)
    assert run.status == "succeeded", run.traceback
    annotator = users["annotator"]
    topic = "assemble a bookshelf"
    add_pairs(project, [topic], tag="fresh", source="ai")
    fresh = Item.objects.get(project=project, prompt=prompt_for(topic))
    Item.objects.filter(project=project).exclude(pk=fresh.pk).update(
        annotations_done=project.overlap, queue_state=None)
    task = engine.next_task(project_id=project.pk, annotator=annotator)
    ids = {r["text"]: r["id"] for r in task.responses}
    engine.submit_annotation(assignment_id=task.assignment.pk, annotator=annotator,
                             ranking=[[ids[helpful(topic)]], [ids[curt(topic)]]])

    # A process of its own, so that these calls really are its first import of torch.
    env = {**os.environ, "DATABASE_URL": database_url_for_tests(),
           "RANKWISE_DATA_DIR": str(tmp_path), "RANKWISE_PROFILE": "local",
           "DJANGO_SETTINGS_MODULE": "rankwise.settings",
           "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}"}
    done = subprocess.run(
        [sys.executable, "-c", FIRST_CALLS, str(project.pk), str(annotator.pk),
         str(task.assignment.pk), str(THREADS)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["fresh"] is True
    assert outcome["results"] == ["ok"] * THREADS, outcome
    assert outcome["loads"] == 1  # one model for all of them, not one per thread
