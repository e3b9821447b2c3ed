"""Project settings are a type: strict on write (every bad key named), lenient on what is
already stored, and read through attributes everywhere."""

from __future__ import annotations

import dataclasses

import pytest

from annotation.models import Item, Project, Response
from annotation.project_settings import (
    DEFAULT_FLAGS,
    InvalidSettings,
    ProjectSettings,
    project_settings,
)


def patch_settings(client, project, settings):
    return client.patch(f"/api/v1/projects/{project.pk}/", {"settings": settings}, format="json")


@pytest.fixture
def manager(project_with_roles, client_for):
    project, users = project_with_roles
    return project, client_for(users["manager"])


def test_a_misspelt_key_is_a_400_naming_it(manager):
    project, client = manager
    answer = patch_settings(client, project, {"active_learnin": True})
    assert answer.status_code == 400
    body = answer.json()
    assert body["detail"] == "settings.active_learnin: unknown key"
    assert body["errors"] == [{"field": "settings.active_learnin", "message": "unknown key"}]
    project.refresh_from_db()
    assert project.settings == {}


def test_every_bad_key_is_named_at_once(manager):
    project, client = manager
    answer = patch_settings(client, project, {
        "reward_model": {"epocs": 3, "mode": "deep", "lr": "fast", "auto": 1},
        "qualification": {"required": -1, "min_accuracy": 1.5},
        "flags": [],
        "active_learning": "yes",
    })
    assert answer.status_code == 400
    named = {e["field"]: e["message"] for e in answer.json()["errors"]}
    assert named == {
        "settings.reward_model.epocs": "unknown key",
        "settings.reward_model.mode": "must be one of 'head', 'finetune'",
        "settings.reward_model.lr": "must be a number",
        "settings.reward_model.auto": "must be true or false",
        "settings.qualification.required": "must be at least 0",
        "settings.qualification.min_accuracy": "must be at most 1",
        "settings.flags": "must have at least 1 entries",
        "settings.active_learning": "must be true or false",
    }


@pytest.mark.parametrize("raw,field,message", [
    ([1, 2], "settings", "must be a JSON object"),
    ({"qualification": 3}, "settings.qualification", "must be a JSON object"),
    ({"flags": ["a", 7]}, "settings.flags[1]", "must be a string"),
    ({"flags": ["a", "a"]}, "settings.flags", "must not repeat an entry"),
    ({"flags": ["x" * 65]}, "settings.flags[0]", "must be at most 64 characters"),
    ({"reward_model": {"epochs": 2.5}}, "settings.reward_model.epochs", "must be an integer"),
    ({"reward_model": {"epochs": True}}, "settings.reward_model.epochs", "must be an integer"),
    ({"reward_model": {"layers": [1, "2"]}}, "settings.reward_model.layers[1]",
     "must be an integer"),
    ({"reward_model": {"auto": None}}, "settings.reward_model.auto", "must not be null"),
    ({"quality": {"anything": 1}}, "settings.quality.anything", "unknown key"),
])
def test_each_kind_of_bad_value(manager, raw, field, message):
    project, client = manager
    answer = patch_settings(client, project, raw)
    assert answer.status_code == 400
    assert {"field": field, "message": message} in answer.json()["errors"]


def test_creating_a_project_with_bad_settings_creates_nothing(manager):
    _, client = manager
    before = Project.objects.count()
    answer = client.post("/api/v1/projects/", {"name": "strict", "responses_per_item": 2,
                                               "settings": {"overlapp": 2}}, format="json")
    assert answer.status_code == 400
    assert answer.json()["errors"] == [{"field": "settings.overlapp", "message": "unknown key"}]
    assert Project.objects.count() == before


def test_good_settings_are_stored_as_sent_and_read_as_attributes(manager):
    project, client = manager
    sent = {"flags": ["off_topic", "toxic"], "active_learning": True,
            "qualification": {"required": 2},
            "reward_model": {"auto": True, "epochs": 30, "layers": [1, 2]}}
    answer = patch_settings(client, project, sent)
    assert answer.status_code == 200, answer.json()
    assert answer.json()["settings"] == sent
    project.refresh_from_db()
    typed = project_settings(project)
    assert typed.flags == ("off_topic", "toxic")
    assert typed.active_learning is True
    assert (typed.qualification.required, typed.qualification.min_accuracy) == (2, 0.8)
    assert typed.reward_model.auto is True
    assert typed.reward_model.min_new_comparisons == 200
    # Only the trainer parameters a manager set are passed on (plus the split's own two).
    assert typed.reward_model.trainer_params() == {
        "epochs": 30, "layers": [1, 2], "seed": 0, "eval_fraction": 0.2}


def test_defaults_when_nothing_is_set():
    typed = ProjectSettings.parse({})
    assert typed.flags == DEFAULT_FLAGS
    assert typed.active_learning is False
    assert typed.qualification.required == 0
    assert typed.reward_model.trainer_params() == {"seed": 0, "eval_fraction": 0.2}
    with pytest.raises(dataclasses.FrozenInstanceError):
        typed.active_learning = True


def test_invalid_settings_is_a_domain_error_listing_every_key():
    with pytest.raises(InvalidSettings) as caught:
        ProjectSettings.parse({"a": 1, "reward_model": {"b": 2}})
    assert [e["field"] for e in caught.value.errors] == ["settings.a", "settings.reward_model.b"]
    assert caught.value.status == 400


def test_settings_stored_before_the_rules_still_work(project_with_roles, client_for, caplog):
    """A project whose stored settings break today's rules keeps working: bad keys are
    ignored (with a warning) and their defaults used, as the old readers did."""
    project, users = project_with_roles
    Project.objects.filter(pk=project.pk).update(settings={
        "active_learnin": True, "flags": ["toxic"], "qualification": {"required": "3"},
        "reward_model": {"epocs": 3, "epochs": 5}})
    project.refresh_from_db()
    typed = project_settings(project)
    assert typed.flags == ("toxic",)
    assert typed.qualification.required == 0
    assert typed.reward_model.trainer_params()["epochs"] == 5
    item = Item.objects.create(project=project, prompt="p", content_hash="h")
    for position in range(project.responses_per_item):
        Response.objects.create(item=item, position=position, text=f"r{position}")
    annotator = client_for(users["annotator"])
    task = annotator.get(f"/api/v1/projects/{project.pk}/next/")
    assert task.status_code == 200
    ids = [r["id"] for r in task.json()["item"]["responses"]]
    done = annotator.post(f"/api/v1/assignments/{task.json()['assignment']}/submit/",
                          {"ranking": [[i] for i in ids], "flags": ["toxic"]}, format="json")
    assert done.status_code == 201, done.json()
