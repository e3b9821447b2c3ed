"""The order a judge is shown, end to end: a one-prompt judge is shown about half the items
swapped and its answers are stored about the item's positions; the local LM's per-order
preferences are kept; the batch is written in bulk, row by row only after a race."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.models import Annotation
from judges import selectors, services
from judges.engine.local_lm import LocalLMBackend
from judges.engine.order import is_swapped
from judges.engine.reward_backend import RewardModelBackend
from judges.engine.sampling import choose
from judges.engine.types import Comparison, Principle
from judges.models import JudgeVerdict
from tests.exports.test_export_api import make_item
from tests.judges_engine.test_http_backend import ok, serve
from tests.judges_engine.test_local_lm import tiny

from .conftest import openai_judge

pytestmark = pytest.mark.django_db


@pytest.fixture
def many(world):
    """The world's project with 40 more items (first and second response told apart)."""
    project, users, items, constitution = world
    more = [make_item(project, [f"first text {n}", f"second text {n}"], prompt=f"Ask {n}")
            for n in range(40)]
    return project, users, items + more, constitution


def shown_first(request) -> str:
    """Which of the item's responses the judge read as (A): "first" or "second"."""
    user = request["body"]["messages"][-1]["content"]
    first = max(user.find("good answer"), user.find("first text"))
    second = max(user.find("bad answer"), user.find("second text"))
    assert first >= 0 and second >= 0
    return "first" if first < second else "second"


def test_a_judge_that_always_says_a_is_stored_in_item_order(many):
    project, users, items, _constitution = many
    with serve(default=ok("The first one. [[A]]")) as (url, endpoint):
        judge = openai_judge(project, users["manager"], url, seed=5)
        run = services.execute_run(run_id=services.request_run(actor=users["manager"],
                                                               judge=judge).pk, batch_size=7)
    assert run.n_judged == len(items) == 44
    verdicts = list(JudgeVerdict.objects.filter(judge=judge).select_related("annotation"))
    swapped = [v for v in verdicts if v.swapped]
    assert 12 <= len(swapped) <= 32  # about half of 44 shown swapped
    for v in verdicts:
        assert v.swapped == is_swapped(seed=5, item_id=v.item_id, principle=v.principle)
        # The backend said (A), the response it saw first: the item's B when swapped.
        assert (v.verdict, v.preference) == (("B", 0.0) if v.swapped else ("A", 1.0))
        ids = list(v.item.responses.order_by("position").values_list("pk", flat=True))
        winner = ids[1] if v.swapped else ids[0]
        assert v.annotation.ranking == [[winner], [ids[1 - ids.index(winner)]]]
        assert v.raw == "The first one. [[A]]"
    # The server really was shown the item's second response first on the swapped ones.
    order = {request["body"]["messages"][-1]["content"]: shown_first(request)
             for request in endpoint.requests}
    assert list(order.values()).count("second") == len(swapped)
    bias = selectors.position_bias(judge=judge)
    assert (bias["first_shown_rate"], bias["n"]) == (1.0, 44)
    assert bias["p_value"] == pytest.approx(2 / 2 ** 44)


def test_all_principles_of_a_verdict_share_one_order(many):
    project, users, items, _constitution = many
    with serve(default=ok("[[A]]")) as (url, endpoint):
        judge = openai_judge(project, users["manager"], url, principles="all")
        services.execute_run(run_id=services.request_run(actor=users["manager"],
                                                         judge=judge).pk)
    assert len(endpoint.requests) == 2 * len(items)
    for v in JudgeVerdict.objects.filter(judge=judge):
        assert v.principle == "harmless+honest"
        assert v.verdict == ("B" if v.swapped else "A")
    assert JudgeVerdict.objects.filter(judge=judge, swapped=True).exists()


def test_a_reward_model_judge_is_never_swapped(world):
    project, users, items, _constitution = world
    judge = services.create_judge(actor=users["manager"], project=project, name="rm",
                                  backend="reward_model")
    backend = RewardModelBackend(lambda prompt, texts: [len(t) for t in texts])
    services.execute_run(run_id=services.request_run(actor=users["manager"], judge=judge).pk,
                         backend=backend)
    assert JudgeVerdict.objects.filter(judge=judge).count() == 4
    assert not JudgeVerdict.objects.filter(judge=judge, swapped=True).exists()
    assert selectors.position_bias(judge=judge) is None


def test_the_local_lm_keeps_both_orders_preferences(world):
    project, users, items, _constitution = world
    model, tokenizer = tiny.__wrapped__()
    backend = LocalLMBackend(model, tokenizer, batch_size=4)
    judge = services.create_judge(actor=users["manager"], project=project, name="lm",
                                  backend="local_lm", path="/models/feedback")
    services.execute_run(run_id=services.request_run(actor=users["manager"], judge=judge).pk,
                         backend=backend)
    verdicts = list(JudgeVerdict.objects.filter(judge=judge).order_by("item_id"))
    assert len(verdicts) == 4 and not any(v.swapped for v in verdicts)
    pairs = selectors.item_pairs(item_ids=[v.item_id for v in verdicts])
    constitution = selectors.current_constitution(project=project)
    principles = [Principle(**p) for p in constitution.principles]
    for v in verdicts:
        prompt, _ids, texts = pairs[v.item_id]
        (principle,) = choose(principles, mode="sample", seed=0, item_id=v.item_id)
        meta = backend.judge(Comparison(prompt, texts[0], texts[1], principle)).meta
        assert v.order_preferences == pytest.approx([meta["p_in_order"], meta["p_swapped"]])
        # The stored preference is the symmetric average of the two orders.
        assert v.preference == pytest.approx((meta["p_in_order"] + 1 - meta["p_swapped"]) / 2)
    bias = selectors.position_bias(judge=judge)
    figures = [p for v in verdicts for p in v.order_preferences]
    assert bias["n"] == 4
    assert bias["first_shown_rate"] == pytest.approx(sum(figures) / len(figures))


def test_a_batch_is_written_in_two_inserts_per_table(world):
    project, users, items, _constitution = world
    with serve(default=ok("[[A]]")) as (url, _endpoint):
        judge = openai_judge(project, users["manager"], url)
        run = services.request_run(actor=users["manager"], judge=judge)
        with CaptureQueriesContext(connection) as queries:
            services.execute_run(run_id=run.pk, batch_size=4)
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 2  # one for the 4 labels, one for the 4 verdicts
    assert JudgeVerdict.objects.filter(judge=judge).count() == 4
    assert all(v.annotation_id for v in JudgeVerdict.objects.filter(judge=judge))


def test_a_race_after_the_check_falls_back_to_row_by_row(world, monkeypatch):
    """Another run of the judge labels an item after the locked re-check: the bulk insert
    meets the unique constraint, and the batch is written row by row, that item skipped."""
    project, users, items, constitution = world
    with serve(default=ok("[[A]]")) as (url, _endpoint):
        judge = openai_judge(project, users["manager"], url)
        run = services.request_run(actor=users["manager"], judge=judge)
        original = selectors.judged_items
        calls = {"n": 0}
        (taken, taken_ids) = items[2]

        def racing(**kwargs):
            calls["n"] += 1
            if calls["n"] == 2:  # the check inside the lock: the rival writes just after it
                rival = services.request_run(actor=users["manager"], judge=judge,
                                             items=[taken.pk])
                JudgeVerdict.objects.create(
                    annotation=Annotation.objects.create(
                        project=project, item=taken, source=Annotation.Source.AI,
                        ranking=[[taken_ids[1]], [taken_ids[0]]]),
                    judge=judge, run=rival, item=taken,
                    principle=choose(
                        [Principle(**p) for p in constitution.principles],
                        mode="sample", seed=0, item_id=taken.pk)[0].name,
                    constitution_version=constitution.version, preference=0.0, verdict="B")
                return set()
            return original(**kwargs)

        monkeypatch.setattr(selectors, "judged_items", racing)
        run = services.execute_run(run_id=run.pk, batch_size=4)
    assert (run.n_judged, run.n_skipped, run.status) == (3, 1, "succeeded")
    assert JudgeVerdict.objects.filter(judge=judge, item=taken).count() == 1
    assert JudgeVerdict.objects.get(judge=judge, item=taken).run_id != run.pk
    assert JudgeVerdict.objects.filter(judge=judge, run=run).count() == 3
