"""The export page in Chromium against the real API: a manager changes the filters and
watches the preview and the row count follow, downloads the file, builds a snapshot and
downloads it; a bad filter is named. And who may open the page at all."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.test import Client

from annotation import services
from annotation.imports import services as imports
from annotation.models import Annotation, Item, Membership
from tests.conftest import MOBILE

READY = "#export-page[data-state=ready]"
N_ITEMS = 12


def lines() -> list[dict]:
    return [{"prompt": f"Prompt {n}: which tea goes with breakfast number {n}?",
             "chosen": f"Assam for breakfast {n}: strong enough for milk.",
             "rejected": f"Breakfast {n} wants chamomile."} for n in range(N_ITEMS)]


def tea_project(make_user) -> dict:
    """A K=2 project of 12 imported items (no labels imported). alice ranks every item as
    its line prefers; bruno ranks items 0-7, agreeing on 0-5 and reversing 6 and 7 (a 1-1
    tie, which ties=drop leaves out). So: 10 pairs by default, 12 with ties kept, 6 with
    min_agreement=1 (items with two human labels that agree), 12 from alice alone."""
    people = {name: make_user(name) for name in ("export-manager", "alice", "bruno",
                                                   "export-reviewer")}
    manager = people["export-manager"]
    project = services.create_project(actor=manager, name="Breakfast teas",
                                      responses_per_item=2, overlap=2)
    for name in ("alice", "bruno"):
        services.set_membership(actor=manager, project=project, user=people[name],
                                role=Membership.Role.ANNOTATOR)
    services.set_membership(actor=manager, project=project, user=people["export-reviewer"],
                            role=Membership.Role.REVIEWER)
    body = "".join(json.dumps(line) + "\n" for line in lines()).encode()
    imports.import_items(actor=manager, project=project, source=io.BytesIO(body), format="trl",
                         labels="none")
    items = list(Item.objects.filter(project=project).order_by("id"))
    for n, item in enumerate(items):
        chosen, rejected = item.responses.order_by("position").values_list("pk", flat=True)
        Annotation.objects.create(project=project, item=item, annotator=people["alice"],
                                  ranking=[[chosen], [rejected]], duration_ms=4000)
        if n < 8:
            ranking = [[rejected], [chosen]] if n in (6, 7) else [[chosen], [rejected]]
            Annotation.objects.create(project=project, item=item, annotator=people["bruno"],
                                      ranking=ranking, duration_ms=6000)
    return {"project": project, "people": people, "items": items}


def row_count(page) -> int:
    page.wait_for_selector(READY)
    return int(page.get_attribute("#row-count", "data-count"))


def wait_for_count(page, n: int) -> None:
    page.wait_for_function(
        "n => document.querySelector('#export-page').dataset.state === 'ready'"
        " && document.querySelector('#row-count').dataset.count === String(n)", arg=n)


def preview_column(page, key: str) -> list[str]:
    return page.eval_on_selector_all(f"#preview tbody td[data-key='{key}']",
                                     "cells => cells.map(c => c.innerText.trim())")


def first_line(path: str | Path) -> dict:
    with open(path, "rb") as fh:
        return json.loads(fh.readline())


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", ["desktop", "mobile"])
def test_a_manager_filters_previews_downloads_and_snapshots(
    live_server, new_page, log_in, shot, make_user, width
):
    data = tea_project(make_user)
    project, first = data["project"], data["items"][0]
    page = new_page(MOBILE, mobile=True) if width == "mobile" else new_page()
    log_in(page, "export-manager")
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.click(f"a[href='/projects/{project.pk}/export/']")

    assert row_count(page) == 10
    assert page.inner_text("#row-count") == "10 rows"
    assert page.locator("#preview tbody tr").count() == 10
    assert preview_column(page, "prompt")[0] == first.prompt
    assert preview_column(page, "chosen")[0] == lines()[0]["chosen"]
    headers = page.eval_on_selector_all("#preview thead th", "ths => ths.map(t => t.innerText)")
    assert headers[:4] == ["item_id", "prompt", "chosen", "rejected"] and "tie" not in headers
    shot(page, "default")

    # A stricter filter: the count and the rows follow.
    page.fill("#f-min_agreement", "1")
    wait_for_count(page, 6)
    assert page.locator("#preview tbody tr").count() == 6
    assert page.get_attribute("#download", "href").endswith("format=trl&ties=drop&min_agreement=1")
    # Only alice's labels: no disagreement left, every item a pair.
    page.fill("#f-min_agreement", "")
    page.check(f"input[name=annotators][value='{data['people']['alice'].pk}']")
    wait_for_count(page, 12)
    page.uncheck(f"input[name=annotators][value='{data['people']['alice'].pk}']")
    # Labels since a moment still to come: nothing yet.
    page.fill("#f-since", "2999-01-01T00:00")
    wait_for_count(page, 0)
    assert page.locator("#preview-empty").is_visible()
    page.fill("#f-since", "")
    wait_for_count(page, 10)
    # Ties kept: the two 1-1 items come back, marked.
    page.select_option("#f-ties", "keep")
    wait_for_count(page, 12)
    assert page.inner_text("#preview-note") == "the first 10 shown"
    assert preview_column(page, "tie") == ["yes" if n in (6, 7) else "no" for n in range(10)]
    shot(page, "ties-kept")

    # A bad value is named next to the form, and nothing can be downloaded meanwhile.
    new_page.allow_http(400, f"/api/v1/projects/{project.pk}/export/")
    page.fill("#f-min_agreement", "2")
    page.wait_for_selector("#export-page[data-state=invalid]")
    assert "between 0 and 1" in page.inner_text(".field-problem[data-field=min_agreement]")
    assert page.get_attribute("#f-min_agreement", "aria-invalid") == "true"
    assert page.is_disabled("#create-snapshot")
    shot(page, "bad-filter")
    page.fill("#f-min_agreement", "")
    wait_for_count(page, 12)
    assert page.locator(".field-problem").count() == 0

    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == "breakfast-teas-trl.jsonl"
    line = first_line(download.value.path())
    assert line["prompt"] == first.prompt and line["chosen"] == lines()[0]["chosen"]
    assert line["tie"] is False and line["item_id"] == first.pk

    # A snapshot with the same filters: built (eagerly here), listed ready with its files.
    page.click("#create-snapshot")
    ready = page.locator("#snapshots tbody tr[data-status=ready]")
    ready.wait_for()
    assert ready.count() == 1
    assert ready.locator("[data-key=rows]").inner_text() == "12"
    assert "ties=keep" in ready.inner_text()
    assert ready.locator("a[data-file]").evaluate_all(
        "links => links.map(a => a.dataset.file)") == ["jsonl", "parquet", "card"]
    # The list is drawn again while it polls: scroll its card, not a row that may be redrawn.
    page.locator("#snapshots").scroll_into_view_if_needed()
    shot(page, "snapshot-ready")
    with page.expect_download() as snapshot_download:
        ready.locator("a[data-file=jsonl]").click()
    assert first_line(snapshot_download.value.path()) == line


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_running_snapshot_shows_its_progress(live_server, new_page, log_in, shot, make_user):
    from annotation.exports.models import Snapshot

    data = tea_project(make_user)
    project = data["project"]
    building = Snapshot.objects.create(project=project, format="trl", status="running",
                                       progress=0.42, params={"format": "trl"})
    page = new_page()
    log_in(page, "export-manager")
    page.goto(f"{live_server.url}/projects/{project.pk}/export/")
    row = page.locator(f"#snapshots tbody tr[data-snapshot='{building.pk}']")
    row.wait_for()
    assert "building 42%" in row.inner_text()
    assert row.locator("[role=progressbar]").get_attribute("aria-valuenow") == "42"
    assert row.locator("a[data-file]").count() == 0
    # The page polls while a snapshot builds: it shows the change without a reload.
    Snapshot.objects.filter(pk=building.pk).update(status="failed", detail="disk full")
    page.locator(f"#snapshots tbody tr[data-snapshot='{building.pk}'][data-status=failed]").wait_for()
    assert "failed: disk full" in page.inner_text("#snapshots")
    shot(page, "failed")


# --- who may open it (no browser) ----------------------------------------------------------

@pytest.mark.django_db
def test_only_managers_open_the_export_page(make_user):
    data = tea_project(make_user)
    project, people = data["project"], data["people"]
    outsider = make_user("outsider")
    url = f"/projects/{project.pk}/export/"

    def status_for(user) -> int:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client.get(url).status_code

    assert status_for(people["export-manager"]) == 200
    assert status_for(people["export-reviewer"]) == 403
    assert status_for(people["alice"]) == 403
    assert status_for(outsider) == 404
    assert status_for(None) == 302
    page = Client()
    page.force_login(people["export-manager"])
    assert f'href="{url}"' in page.get(f"/projects/{project.pk}/").content.decode()
    page.force_login(people["export-reviewer"])
    assert f'href="{url}"' not in page.get(f"/projects/{project.pk}/").content.decode()
