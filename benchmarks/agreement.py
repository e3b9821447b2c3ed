"""Agreement and consensus at a million labels, against reference packages in the same run.

    python benchmarks/agreement.py [--quick]

Prints ONE JSON line. Each figure is one function ``(*, quick) -> dict`` listed in
``FIGURES``; ``main`` merges their dicts, so a further figure (the agreement endpoint's
latency on a 100,000-item project) is one more function in that tuple.

- ``krippendorff_figures``: Krippendorff's alpha, nominal and ordinal, of 1,000,000 labels
  (333,334 units × 20 raters, 3 labels per unit, values 0 / 1 / 2, the rest missing) with
  ``annotation.quality.agreement.krippendorff_alpha`` and with the ``krippendorff`` package
  on the same array: best-of-3 seconds of each, both values (asserted equal to 1e-9),
  ``ratio`` = reference seconds / ours over both levels (≥ 1: ours is faster), and the
  peak memory of each call under tracemalloc.
- ``dawid_skene_figures``: Dawid–Skene EM on 1,000,000 pair labels (333,334 pairs, 3
  labels each from 1,000 raters: careful, random or always "i wins") with the defaults of
  ``annotation.quality.dawid_skene.dawid_skene``: seconds, iterations, and the share of
  pairs whose true class it recovers next to majority vote; then ours and
  ``crowdkit.aggregation.DawidSkene`` for the same number of iterations without
  smoothing (posteriors asserted equal to 1e-6): ``dawid_skene_ratio`` = crowdkit seconds
  / ours.

- ``endpoint_figures``: ``GET /api/v1/projects/{id}/agreement/`` on a 100,000-item project
  (3 human labels per item, 500 bootstrap resamples, weekly series and Cohen matrix) through
  the Django stack, on a scratch PostgreSQL database (``DATABASE_URL``, default
  ``rw_bench_agreement``; its name must contain "bench"): best-of-3 seconds, beside one
  query plus the ``krippendorff`` package's nominal α on the same labels
  (``endpoint_ratio`` = reference / endpoint).

``--quick`` uses a tenth of the labels (and items) and one timing run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotation.quality.agreement import krippendorff_alpha  # noqa: E402
from annotation.quality.dawid_skene import I_WINS, dawid_skene  # noqa: E402

LABELS = 1_000_000
PER_UNIT = 3


def best_seconds(fn, repeats: int):
    """(fastest wall time of ``repeats`` calls, the last result)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def peak_mib(fn) -> float:
    """Peak memory allocated during one call (numpy buffers included), in MiB."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def reliability_data(n_labels: int, n_raters: int = 20, seed: int = 0) -> np.ndarray:
    """units × raters array (NaN = missing) of exactly ``n_labels`` labels in {0, 1, 2}:
    3 distinct raters per unit (the last unit may have fewer), each giving the unit's true
    value with probability 0.7 and a uniform value otherwise."""
    rng = np.random.default_rng(seed)
    n_units = -(-n_labels // PER_UNIT)
    truth = rng.integers(0, 3, n_units)
    columns = np.argsort(rng.random((n_units, n_raters)), axis=1)[:, :PER_UNIT]
    values = np.where(rng.random((n_units, PER_UNIT)) < 0.7, truth[:, None],
                      rng.integers(0, 3, (n_units, PER_UNIT))).astype(float)
    values.ravel()[n_labels:] = np.nan
    data = np.full((n_units, n_raters), np.nan)
    np.put_along_axis(data, columns, values, axis=1)
    return data


def pair_labels(n_labels: int, n_raters: int = 1000, seed: int = 1):
    """Flat (units, raters, labels) of ``n_labels`` pair labels, 3 per pair, and the true
    classes: 60% of raters careful (right 85%, else a uniform class), 25% uniform, 15%
    always "i wins"; true classes j wins / tie / i wins with probabilities .4 / .2 / .4."""
    rng = np.random.default_rng(seed)
    n_units = -(-n_labels // PER_UNIT)
    truth = rng.choice(3, size=n_units, p=[0.4, 0.2, 0.4])
    kind = rng.choice(3, size=n_raters, p=[0.6, 0.25, 0.15])  # careful, uniform, "i wins"
    units = np.repeat(np.arange(n_units), PER_UNIT)[:n_labels]
    raters = rng.integers(0, n_raters, n_labels)
    careful = np.where(rng.random(n_labels) < 0.85, truth[units],
                       rng.integers(0, 3, n_labels))
    labels = np.select([kind[raters] == 0, kind[raters] == 1],
                       [careful, rng.integers(0, 3, n_labels)], I_WINS)
    return units, raters, labels, truth


def krippendorff_figures(*, quick: bool) -> dict:
    import krippendorff

    n_labels = LABELS // 10 if quick else LABELS
    repeats = 1 if quick else 3
    data = reliability_data(n_labels)
    by_rater = np.ascontiguousarray(data.T)  # the package wants raters × units
    out: dict = {"alpha_labels": int(np.isfinite(data).sum()), "alpha_units": data.shape[0],
                 "alpha_raters": data.shape[1]}
    ours_total = reference_total = 0.0
    for level in ("nominal", "ordinal"):
        ours_s, ours = best_seconds(lambda lv=level: krippendorff_alpha(data, lv), repeats)
        reference_s, reference = best_seconds(
            lambda lv=level: krippendorff.alpha(reliability_data=by_rater,
                                                level_of_measurement=lv), repeats)
        assert abs(ours - reference) < 1e-9, (level, ours, reference)
        ours_total += ours_s
        reference_total += reference_s
        out.update({
            f"alpha_{level}": round(ours, 12),
            f"alpha_{level}_reference": round(float(reference), 12),
            f"alpha_{level}_seconds": round(ours_s, 4),
            f"alpha_{level}_reference_seconds": round(reference_s, 4),
            f"alpha_{level}_ratio": round(reference_s / ours_s, 2),
            f"alpha_{level}_peak_mib": round(peak_mib(lambda lv=level: krippendorff_alpha(
                data, lv)), 1),
            f"alpha_{level}_reference_peak_mib": round(peak_mib(
                lambda lv=level: krippendorff.alpha(reliability_data=by_rater,
                                                    level_of_measurement=lv)), 1),
        })
    out["alpha_input_mib"] = round(data.nbytes / 2**20, 1)
    out["ratio"] = round(reference_total / ours_total, 2)
    return out


def dawid_skene_figures(*, quick: bool) -> dict:
    import pandas as pd
    from crowdkit.aggregation import DawidSkene

    n_labels = LABELS // 10 if quick else LABELS
    units, raters, labels, truth = pair_labels(n_labels)
    seconds, fit = best_seconds(lambda: dawid_skene(units, raters, labels), 1)
    counts = np.bincount(units * 3 + labels, minlength=truth.size * 3).reshape(-1, 3)

    n = fit.iterations
    ours_s, plain = best_seconds(
        lambda: dawid_skene(units, raters, labels, max_iter=n, tol=-np.inf, smoothing=0.0), 1)
    frame = pd.DataFrame({"task": units, "worker": raters, "label": labels})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # crowdkit's pandas calls
        reference_s, reference = best_seconds(
            lambda: DawidSkene(n_iter=n, tol=-np.inf).fit(frame), 1)
    probas = reference.probas_.reindex(index=np.arange(truth.size), columns=[0, 1, 2])
    gap = float(np.abs(probas.to_numpy() - plain.posteriors).max())
    assert gap < 1e-6, gap
    return {
        "dawid_skene_labels": int(labels.size),
        "dawid_skene_units": int(truth.size),
        "dawid_skene_raters": int(raters.max()) + 1,
        "dawid_skene_seconds": round(seconds, 3),
        "dawid_skene_iterations": fit.iterations,
        "dawid_skene_converged": fit.converged,
        "dawid_skene_accuracy": round(float(np.mean(fit.posteriors.argmax(1) == truth)), 4),
        "majority_vote_accuracy": round(float(np.mean(counts.argmax(1) == truth)), 4),
        "dawid_skene_fixed_iterations_seconds": round(ours_s, 3),
        "dawid_skene_crowdkit_seconds": round(reference_s, 3),
        "dawid_skene_max_posterior_gap": gap,
        "dawid_skene_ratio": round(reference_s / ours_s, 2),
    }


ENDPOINT_ITEMS = 100_000
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/rw_bench_agreement"


def _django(database_url: str) -> None:
    """Point Django at a fresh scratch database (its name must contain "bench")."""
    import os

    import psycopg

    if "bench" not in database_url.rsplit("/", 1)[-1]:
        raise SystemExit("DATABASE_URL must name a database containing 'bench'")
    os.environ.update(DATABASE_URL=database_url, RANKWISE_PROFILE="local",
                      DJANGO_SETTINGS_MODULE="rankwise.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))
    base, name = database_url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _seed_project(n_items: int):
    """A K=2 project of ``n_items`` items, each labelled by 3 of 5 annotators."""
    from django.contrib.auth import get_user_model

    from annotation import services
    from annotation.models import Annotation, Item, Membership, Response

    User = get_user_model()
    manager = User.objects.create_user("bench-manager", password="bench-password-31415")
    project = services.create_project(actor=manager, name="agreement bench",
                                      responses_per_item=2, overlap=3)
    annotators = [User.objects.create_user(f"bench-a{n}") for n in range(5)]
    for user in annotators:
        services.set_membership(actor=manager, project=project, user=user,
                                role=Membership.Role.ANNOTATOR)
    rng = np.random.default_rng(5)
    chunk = 10_000
    for start in range(0, n_items, chunk):
        items = Item.objects.bulk_create(
            [Item(project=project, prompt=f"prompt {n}", content_hash=f"{n:064d}")
             for n in range(start, min(start + chunk, n_items))])
        responses = Response.objects.bulk_create(
            [Response(item=item, position=p, text=f"answer {item.pk}-{p}")
             for item in items for p in range(2)])
        labels = []
        for n, item in enumerate(items):
            a, b = responses[2 * n].pk, responses[2 * n + 1].pk
            for who in rng.choice(5, size=3, replace=False):
                vote = rng.random()
                ranking = [[a], [b]] if vote < 0.7 else [[b], [a]] if vote < 0.95 else [[a, b]]
                labels.append(Annotation(project=project, item=item, annotator=annotators[who],
                                         ranking=ranking, duration_ms=20_000))
        Annotation.objects.bulk_create(labels, batch_size=5000)
    return project, manager


def endpoint_figures(*, quick: bool) -> dict:
    """``GET /api/v1/projects/{id}/agreement/`` on a 100,000-item project (3 labels per
    item), through the whole Django stack in process; beside it the same labels read with
    one query and given to the ``krippendorff`` package (nominal α only, no CIs, no
    weekly series, no Cohen matrix)."""
    import os

    import krippendorff
    from django.db import connection
    from django.test import Client

    _django(os.environ.get("DATABASE_URL", DEFAULT_DB))
    n_items = ENDPOINT_ITEMS // 10 if quick else ENDPOINT_ITEMS
    started = time.perf_counter()
    project, manager = _seed_project(n_items)
    seed_seconds = time.perf_counter() - started
    client = Client(SERVER_NAME="localhost")
    client.force_login(manager)
    url = f"/api/v1/projects/{project.pk}/agreement/"

    def call():
        answer = client.get(url)
        assert answer.status_code == 200, answer.content[:300]
        return answer.json()

    seconds, body = best_seconds(call, 1 if quick else 3)

    def reference():
        with connection.cursor() as cursor:
            cursor.execute("SELECT a.item_id, a.annotator_id, a.ranking FROM annotation_annotation a "
                           "WHERE a.project_id = %s", [project.pk])
            rows = cursor.fetchall()
        raters = {who: n for n, who in enumerate(sorted({r[1] for r in rows}))}
        items = {item: n for n, item in enumerate(sorted({r[0] for r in rows}))}
        first = {}
        for item, _, ranking in rows:
            ranking = json.loads(ranking) if isinstance(ranking, str) else ranking
            first.setdefault(item, min(x for tier in ranking for x in tier))
        data = np.full((len(raters), len(items)), np.nan)
        for item, who, ranking in rows:
            ranking = json.loads(ranking) if isinstance(ranking, str) else ranking
            top = ranking[0]
            low = first[item]
            data[raters[who], items[item]] = 1 if len(top) == 2 else 2 if low in top else 0
        return krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")

    reference_seconds, alpha = best_seconds(reference, 1 if quick else 3)
    assert abs(alpha - body["krippendorff_alpha"]["nominal"]) < 1e-9, (alpha, body)
    return {"endpoint_items": n_items, "endpoint_labels": body["n_annotations"],
            "endpoint_seconds": round(seconds, 3),
            "endpoint_bootstrap_samples": body["ci"]["samples"],
            "endpoint_reference_seconds": round(reference_seconds, 3),
            "endpoint_ratio": round(reference_seconds / seconds, 2),
            "endpoint_seed_seconds": round(seed_seconds, 1)}


FIGURES = (krippendorff_figures, dawid_skene_figures, endpoint_figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the labels")
    args = parser.parse_args()
    out: dict = {"benchmark": "agreement", "quick": args.quick}
    for figure in FIGURES:
        out.update(figure(quick=args.quick))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
