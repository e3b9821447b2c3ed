"""Import throughput on PostgreSQL: Rankwise's import against a bare COPY of the same rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rw_bench \\
        python benchmarks/import_items.py [--items 100000] [--format native|trl]

Builds N items with K=2 (text lengths drawn from lognormal fits to the HH-RLHF harmless-base
test split: prompts median 305 / mean 430 characters, responses median 127 / mean 189),
imports them as one JSON Lines body through ``annotation.imports.services.import_items``
(reading, checking, hashing, duplicate lookup, writing, commit), then COPYs the same item and
response rows into scratch tables with psycopg in the same process, and prints one JSON line:
items/s of each and ``ratio`` = rankwise / copy. The database is created when missing and
migrated; the benchmark's project and scratch tables are removed afterwards.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]
os.environ.setdefault("RANKWISE_PROFILE", "local")
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/rw_bench"
WORDS = ("the of and to in is that it for was on are as with his they at be this from have or "
         "by one had not but what all were when we there can an your which their said if do "
         "will each about how up out them then she many some so these would other into has more "
         "her two like him see time could no make than first been its who now people my made "
         "over did down only way find use may water long little very after words called just "
         "where most know get through back much before go good new write our used me man too "
         "any day same right look think also around another came come work three word must "
         "because does part even place well such here take why things help put years different "
         "away again off went old number great tell men say small every found still between "
         "name should home big give air line set own under read last never us left end along "
         "while might next sound below saw something thought both few those always looked show "
         "large often together asked house don't world going want school important until form "
         "food keep children feet land side without boy once animals life enough took sometimes "
         "four head above kind began almost live page got earth need far hand high year mother "
         "light parts country father let night following picture being study second eyes soon "
         "times story boys since white days ever paper hard near sentence better best across "
         "during today others sure means knew it's try told young miles sun ways thing whole "
         "hear example heard several change answer room sea against top turned learn point city "
         "play toward five using himself usually money seen didn't car morning I'm body upon "
         "family later turn move face door cut done group true leave color red friends pretty "
         "eat front feel fact hours black gave half run room model reward policy").split()


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    try:
        psycopg.connect(url, autocommit=True).close()
        return
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
    name = url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def lengths(rng: random.Random, n: int, median: float, mean: float) -> list[int]:
    sigma = math.sqrt(2 * math.log(mean / median))
    return [max(1, min(8000, int(rng.lognormvariate(math.log(median), sigma)))) for _ in range(n)]


def make_lines(n: int, fmt: str, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    pool = " ".join(rng.choices(WORDS, k=1_500_000))
    prompt_lengths = lengths(rng, n, 305, 430)
    response_lengths = lengths(rng, 2 * n, 127, 189)

    def text(size: int) -> str:
        start = rng.randrange(0, len(pool) - size)
        return pool[start:start + size].strip() or "ok"

    lines = []
    for i in range(n):
        prompt = f"Question {i}: {text(prompt_lengths[i])}"
        chosen, rejected = text(response_lengths[2 * i]), text(response_lengths[2 * i + 1])
        if chosen == rejected:
            rejected += " (b)"
        if fmt == "trl":
            lines.append({"prompt": prompt, "chosen": chosen, "rejected": rejected})
        else:
            lines.append({"prompt": prompt, "responses": [chosen, rejected]})
    return lines


def copy_baseline(url: str, records) -> float:
    """Seconds to COPY the same item and response rows into scratch copies of the tables."""
    import psycopg
    from django.utils import timezone

    now = timezone.now()
    item_rows, response_rows = [], []
    for item_id, (content_hash, record) in enumerate(records, start=1):
        item_rows.append((item_id, 1, record.prompt or "", None, content_hash, "{}", False, None,
                          0, 0, 0, None, now))
        for position, response in enumerate(record.responses):
            response_rows.append((item_id, position, response.text, response.model,
                                  response.external_id))
    item_columns = ("id, project_id, prompt, messages, content_hash, meta, is_gold, "
                    "gold_ranking, annotations_done, leases_live, imported_labels, uncertainty, "
                    "created_at")
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            for name, like in (("bench_copy_item", "annotation_item"),
                               ("bench_copy_response", "annotation_response")):
                cur.execute(f"DROP TABLE IF EXISTS {name}")
                # Same columns, defaults, identity and indexes as the real table.
                cur.execute(f"CREATE TABLE {name} (LIKE {like} INCLUDING ALL)")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur:
            with cur.copy(f"COPY bench_copy_item ({item_columns}) FROM STDIN") as copy:
                for row in item_rows:
                    copy.write_row(row)
            with cur.copy("COPY bench_copy_response (item_id, position, text, model, "
                          "external_id) FROM STDIN") as copy:
                for row in response_rows:
                    copy.write_row(row)
        conn.commit()
        elapsed = time.perf_counter() - started
        with conn.cursor() as cur:
            cur.execute("DROP TABLE bench_copy_item, bench_copy_response")
        conn.commit()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--format", choices=["native", "trl"], default="native",
                        help="trl also stores one imported label per item.")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("This benchmark compares against PostgreSQL COPY: set DATABASE_URL "
                         "to a postgres:// URL.")
    os.environ["DATABASE_URL"] = url
    ensure_database(url)

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rankwise.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from annotation import services as project_services
    from annotation.imports import services
    from annotation.models import Annotation, AuditLog, Item, Project, Response

    call_command("migrate", interactive=False, verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="bench")
    project = project_services.create_project(actor=user, name=f"bench-{time.time():.0f}",
                                              responses_per_item=2)
    lines = make_lines(args.items, args.format)
    body = ("\n".join(json.dumps(line) for line in lines) + "\n").encode("utf-8")
    del lines

    started = time.perf_counter()
    result = services.import_items(actor=user, project=project, source=io.BytesIO(body),
                                   format=args.format)
    rankwise_seconds = time.perf_counter() - started
    assert result["created"] == args.items, result

    # The baseline writes exactly the rows the import wrote, parsed outside the timing.
    parsed = services.parse_source(source=io.BytesIO(body), format=args.format, k=2)
    copy_seconds = copy_baseline(url, parsed.records)

    Annotation.objects.filter(project=project).delete()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Response._meta.db_table} WHERE item_id IN "
                       f"(SELECT id FROM {Item._meta.db_table} WHERE project_id = %s)",
                       [project.pk])
    Item.objects.filter(project=project).delete()
    AuditLog.objects.filter(project=project).delete()
    Project.objects.filter(pk=project.pk).delete()

    rankwise_rate = args.items / rankwise_seconds
    copy_rate = args.items / copy_seconds
    print(json.dumps({
        "benchmark": "import_items",
        "database": "postgresql",
        "format": args.format,
        "items": args.items,
        "k": 2,
        "body_mb": round(len(body) / 1e6, 1),
        "imported_labels": result["imported_labels"],
        "rankwise_seconds": round(rankwise_seconds, 3),
        "rankwise_items_per_s": round(rankwise_rate),
        "copy_seconds": round(copy_seconds, 3),
        "copy_items_per_s": round(copy_rate),
        "ratio": round(rankwise_rate / copy_rate, 3),
    }))


if __name__ == "__main__":
    main()
