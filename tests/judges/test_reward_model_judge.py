"""A reward-model judge: the project's own active reward model labels held-out items, and
its agreement with people equals the accuracy computed independently from the export."""

from __future__ import annotations

import pytest

from annotation import services as project_services
from annotation.models import Membership
from judges import services
from tests.exports.test_export_api import lines, url
from tests.training_django.conftest import FAST, TOPICS, add_pairs

from .conftest import PRINCIPLES

pytestmark = pytest.mark.django_db


def test_a_reward_model_judge_agrees_with_people_as_the_export_says(
        make_user, client_for, django_capture_on_commit_callbacks):
    from training import runs as training_runs

    manager, reviewer = make_user("rm-judge-manager"), make_user("rm-judge-reviewer")
    project = project_services.create_project(actor=manager, name="Judged", overlap=1,
                                              responses_per_item=2,
                                              settings={"reward_model": dict(FAST)})
    project_services.set_membership(actor=manager, project=project, user=reviewer,
                                    role=Membership.Role.REVIEWER)
    add_pairs(project, TOPICS[:24])
    with django_capture_on_commit_callbacks(execute=True):
        trained = training_runs.request_training(project=project)
    trained.refresh_from_db()
    assert trained.status == "succeeded", trained.traceback
    # Held out: people label eight new items, two of them against the model's taste.
    held = add_pairs(project, TOPICS[24:30], annotators=[reviewer], tag="held", seed=3)
    held += add_pairs(project, TOPICS[30:32], annotators=[reviewer], tag="odd", flip=True)
    services.publish_constitution(actor=manager, project=project, principles=PRINCIPLES)
    judge = services.create_judge(actor=manager, project=project, name="rm",
                                  backend="reward_model")
    run = services.request_run(actor=manager, judge=judge, items=[i.pk for i in held])
    run = services.execute_run(run_id=run.pk)
    assert (run.status, run.n_judged) == ("succeeded", 8), run.error

    client = client_for(reviewer)
    figures = client.get(f"/api/v1/judges/{judge.pk}/agreement/").json()
    people = {row["item_id"]: row["ranking_positions"]
              for row in lines(client.get(url(project, format="annotations",
                                              source="human")))}
    model = {row["item_id"]: row["ranking_positions"]
             for row in lines(client.get(url(project, format="annotations", source="ai")))}
    assert set(model) == set(people) == {i.pk for i in held}
    accuracy = sum(model[i] == people[i] for i in people) / len(people)
    assert figures["n_items"] == 8
    assert figures["percent_agreement"] == pytest.approx(accuracy)
    assert accuracy == pytest.approx(6 / 8)  # helpful ≻ curt learned; the two flips missed
