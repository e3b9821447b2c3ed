"""A reward-model judge on hh-rlhf (harmless-base test split): the project's reward model
is trained on one part of the pairs, judges the held-out part, and the agreement the API
reports equals the accuracy computed independently from the export.

The pairs come in through the import API with their preferences kept (``labels=imported``,
source ``import``): the judges' agreement compares against the consensus of human and
imported labels, so the hh-rlhf choice is the reference. The train part is imported and
trained on first; the held-out part is imported after, so the model never saw it.
"""

from __future__ import annotations

import json

import pytest

from annotation import services as project_services
from annotation.models import Item
from judges import services
from tests.exports.test_export_api import lines, url
from tests.training_django.conftest import FAST

from .conftest import PRINCIPLES

pytestmark = [pytest.mark.django_db, pytest.mark.postgres, pytest.mark.slow]

N_TRAIN, N_HELD = 140, 60


def _import(client, project, rows) -> dict:
    body = "\n".join(json.dumps(row) for row in rows)
    answer = client.post(
        f"/api/v1/projects/{project.pk}/items/import/?format=hh-rlhf&labels=imported",
        body, content_type="application/x-ndjson")
    assert answer.status_code == 201, answer.content
    return answer.json()


def _positions(client, project, source: str) -> dict[int, list[list[int]]]:
    """``{item id: ranking by response position}`` of the export's labels of ``source``."""
    rows = lines(client.get(url(project, format="annotations", source=source)))
    out = {}
    for row in rows:
        assert row["source"] == source
        assert row["item_id"] not in out, "one label per item expected"
        out[row["item_id"]] = row["ranking_positions"]
    return out


def test_a_reward_model_judge_on_hh_rlhf_agrees_as_the_export_says(
        make_user, client_for, hh_rlhf_lines, django_capture_on_commit_callbacks):
    from training import runs as training_runs

    manager = make_user("hh-judge-manager")
    project = project_services.create_project(actor=manager, name="hh judged", overlap=1,
                                              responses_per_item=2,
                                              settings={"reward_model": dict(FAST)})
    client = client_for(manager)
    pairs = hh_rlhf_lines[:N_TRAIN + N_HELD]

    imported = _import(client, project, pairs[:N_TRAIN])
    assert imported["imported_labels"] == imported["created"] > 0.9 * N_TRAIN
    train_ids = set(project.items.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        trained = training_runs.request_training(project=project)
    trained.refresh_from_db()
    assert trained.status == "succeeded", trained.traceback

    imported = _import(client, project, pairs[N_TRAIN:])
    held = set(Item.objects.filter(project=project).exclude(pk__in=train_ids)
               .values_list("pk", flat=True))
    assert len(held) == imported["created"] == imported["imported_labels"] > 0.9 * N_HELD

    services.publish_constitution(actor=manager, project=project, principles=PRINCIPLES)
    judge = services.create_judge(actor=manager, project=project, name="hh-rm",
                                  backend="reward_model")
    run = services.request_run(actor=manager, judge=judge, items=sorted(held))
    run = services.execute_run(run_id=run.pk)
    assert (run.status, run.n_judged, run.n_unparseable) == ("succeeded", len(held), 0), \
        run.error

    figures = client.get(f"/api/v1/judges/{judge.pk}/agreement/").json()
    model = _positions(client, project, "ai")
    reference = _positions(client, project, "import")
    # The judge labelled the held-out items only; every item has its hh-rlhf label.
    assert set(model) == held and set(reference) == train_ids | held
    matches = sum(model[i] == reference[i] for i in held)
    assert figures["n_items"] == len(held)
    assert figures["percent_agreement"] == matches / len(held)  # the same fraction, exactly
    # Not a degenerate run: the model neither always agrees nor always disagrees.
    assert 0 < matches < len(held)
