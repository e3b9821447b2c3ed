"""What one annotator can ask of the reward model: bounded texts and counts per request,
long texts cut before they are tokenised, and a per-user rate on scoring and feedback."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import ScopedRateThrottle

from annotation.assignment import services as engine
from annotation.models import Item, Response
from training import runs, scoring, selectors
from training.reward.encoders import CHARS_PER_TOKEN

from ..training_django.conftest import FAST, TOPICS, add_pairs, curt, helpful, prompt_for
from .conftest import error_body

LIMITS = (scoring.MAX_RESPONSES, scoring.MAX_TEXT_CHARS, scoring.MAX_TOTAL_CHARS)


def _score(client, project, body):
    return client.post(f"/api/v1/projects/{project.pk}/reward-models/score/", body,
                       format="json")


# --- caps -----------------------------------------------------------------------------------


def test_the_documented_limits():
    assert LIMITS == (16, 20_000, 100_000) and scoring.MAX_MESSAGES == 50
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] == {
        "score": "60/min", "feedback": "60/min", "generate": "30/min"}


@pytest.mark.django_db
@pytest.mark.parametrize("body,field", [
    ({"prompt": "q", "responses": ["a"] * 17}, "responses"),
    ({"prompt": "q", "responses": ["a", "b" * 20_001]}, "responses.1"),
    ({"prompt": "q" * 20_001, "responses": ["a"]}, "prompt"),
    ({"messages": [{"role": "user", "content": "q" * 20_001}], "responses": ["a"]},
     "messages.0.content"),
    ({"messages": [{"role": "user", "content": "q"}] * 51, "responses": ["a"]}, "messages"),
    ({"prompt": "q", "responses": ["a" * 19_000] * 6}, "responses"),  # 114,001 in all
    ({"prompt": "q" * 20_000, "responses": ["a" * 20_000] * 5}, "responses"),
])
def test_a_request_over_a_limit_is_a_400_naming_the_field(project_with_roles, client_for,
                                                          body, field):
    project, users = project_with_roles
    error_body(_score(client_for(users["annotator"]), project, body), 400, field=field)


@pytest.mark.django_db
def test_a_request_at_the_limits_is_accepted(project_with_roles, client_for):
    project, users = project_with_roles
    body = {"prompt": "q" * 3_999, "responses": ["a" * 6_000] * 16}  # 99,999 characters
    answer = _score(client_for(users["annotator"]), project, body)
    assert answer.status_code == 409  # past validation: this project has no model yet


# --- long texts cost what short ones do -----------------------------------------------------


class TokenizerSpy:
    """Wraps a Hugging Face tokenizer: the longest text it was given."""

    def __init__(self, real):
        self.real, self.longest = real, 0

    def __call__(self, texts, *args, **kwargs):
        self.longest = max([self.longest, *(len(t) for t in texts)])
        return self.real(texts, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.real, name)


@pytest.fixture
def watched(project_with_roles, monkeypatch):
    """A trained project, its served encoder's tokenizer spied on, and the token counts of
    every text the model read."""
    project, users = project_with_roles
    project.settings = {"reward_model": dict(FAST)}
    project.save(update_fields=["settings"])
    add_pairs(project, TOPICS[:24])
    run = runs.execute_run(run_id=runs.request_training(project=project, dispatch=False).pk)
    assert run.status == "succeeded", run.traceback
    encoder = scoring.scorer_for(selectors.active_version(project_id=project.pk,
                                                          kind="reward")).encoder
    spy = TokenizerSpy(encoder.tokenizer)
    monkeypatch.setattr(encoder, "tokenizer", spy)
    tokens: list[int] = []
    forward = encoder.forward_tokens

    def counted(batch):
        tokens.extend(int(n) for n in batch["attention_mask"].sum(1))
        return forward(batch)

    monkeypatch.setattr(encoder, "forward_tokens", counted)
    return project, users, encoder, spy, tokens


@pytest.mark.slow
@pytest.mark.django_db
def test_a_100k_character_response_is_cut_before_it_is_tokenised(watched):
    project, _, encoder, spy, tokens = watched
    budget = encoder.max_length * CHARS_PER_TOKEN
    short = helpful("knit a hat")
    long = (short + " ") * (100_000 // (len(short) + 1))
    assert len(long) > 99_000

    scores = scoring.score_texts(project=project, prompt=prompt_for("knit a hat"),
                                 responses=[short, long])["scores"]
    assert all(score == score for score in scores)  # finite numbers
    assert spy.longest <= budget  # the tokenizer never saw more than the encoder can use
    assert len(tokens) == 2 and max(tokens) == encoder.max_length  # the long one: the cap
    # The same as for a text just over the budget, as long as the model's input.
    tokens.clear()
    scoring.score_texts(project=project, prompt="q", responses=[long[:budget + 1]])
    assert tokens == [encoder.max_length]


@pytest.mark.slow
@pytest.mark.django_db
def test_feedback_on_a_stored_100k_character_response_is_cut_too(watched, client_for):
    project, users, encoder, spy, tokens = watched
    annotator = users["annotator"]
    topic = "assemble a bookshelf"
    Item.objects.filter(project=project).update(annotations_done=project.overlap,
                                                queue_state=None)
    item = Item.objects.create(project=project, prompt=prompt_for(topic), content_hash="long")
    good = Response.objects.create(item=item, position=0, text=helpful(topic))
    bad = Response.objects.create(item=item, position=1, text=curt(topic) * 2_000)
    task = engine.next_task(project_id=project.pk, annotator=annotator)
    assert task.item.pk == item.pk
    engine.submit_annotation(assignment_id=task.assignment.pk, annotator=annotator,
                             ranking=[[good.pk], [bad.pk]])
    spy.longest = 0
    answer = client_for(annotator).get(f"/api/v1/assignments/{task.assignment.pk}/feedback/")
    assert answer.status_code == 200, answer.content
    assert {row["id"] for row in answer.json()["responses"]} == {good.pk, bad.pk}
    assert len(bad.text) > 100_000 and spy.longest <= encoder.max_length * CHARS_PER_TOKEN
    assert max(tokens) <= encoder.max_length


# --- rates ----------------------------------------------------------------------------------


@pytest.fixture
def low_rates(monkeypatch, project_with_roles):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"score": "3/min",
                                                                "feedback": "2/min"})
    keys = [f"throttle_{scope}_{user.pk}" for scope in ("score", "feedback")
            for user in project_with_roles[1].values()]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


@pytest.mark.django_db
def test_scoring_is_rate_limited_per_user(project_with_roles, client_for, low_rates):
    project, users = project_with_roles
    body = {"prompt": "q", "responses": ["a", "b"]}
    annotator = client_for(users["annotator"])
    assert [_score(annotator, project, body).status_code for _ in range(3)] == [409] * 3
    refused = _score(annotator, project, body)
    error_body(refused, 429)
    assert 0 < int(refused["Retry-After"]) <= 60
    assert _score(client_for(users["reviewer"]), project, body).status_code == 409


@pytest.mark.django_db
def test_feedback_is_rate_limited_per_user(project_with_roles, client_for, low_rates):
    _, users = project_with_roles
    annotator = client_for(users["annotator"])
    missing = "/api/v1/assignments/987654321/feedback/"
    assert [annotator.get(missing).status_code for _ in range(2)] == [404, 404]
    refused = annotator.get(missing)
    error_body(refused, 429)
    assert int(refused["Retry-After"]) > 0
