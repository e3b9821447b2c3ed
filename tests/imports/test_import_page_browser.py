"""The import page in Chromium: the format examples (each one a line the importer takes),
the drop zone, the preview of the first lines, an import that fails on a bad line with the
file still chosen, the fixed file imported, and the link to the imported items."""

from __future__ import annotations

import gzip
import html
import json

import pytest
from django.test import Client

from annotation import services
from annotation.imports import examples
from annotation.models import Item

pytestmark = pytest.mark.django_db(transaction=True)

GOOD = [{"prompt": f"Question {n}?", "responses": [f"Answer {n}a", f"Answer {n}b"]} for n in range(3)]


def lines(*rows) -> bytes:
    return "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows).encode()


@pytest.mark.parametrize("k", [2, 3, 4])
def test_every_example_the_page_shows_imports_cleanly(project_with_roles, k):
    project, users = project_with_roles
    manager = users["manager"]
    if k != 2:
        project = services.create_project(actor=manager, name=f"K{k}", responses_per_item=k)
    client = Client()
    client.force_login(manager)
    page = client.get(f"/projects/{project.pk}/import/")
    shown = page.context["examples"]
    assert [e["format"] for e in shown] == ["native", "hh-rlhf", "trl", "prompts"]
    fitting = [e for e in shown if e["fits"]]
    assert len(fitting) == (4 if k == 2 else 2)
    for example in shown:
        assert html.escape(example["line"]) in page.content.decode()
    for example in fitting:
        answer = client.post(f"/api/v1/projects/{project.pk}/items/import/?format={example['format']}",
                             example["line"] + "\n", content_type="application/x-ndjson")
        assert answer.status_code == 201, (example["format"], answer.json())
        body = answer.json()
        assert body["created"] + body["prompts"] == 1, example["format"]


def test_examples_that_do_not_fit_k_are_refused_as_the_page_says():
    by_format = {e["format"]: e for e in examples.examples(k=3)}
    assert not by_format["hh-rlhf"]["fits"] and not by_format["trl"]["fits"]
    assert len(json.loads(by_format["native"]["line"])["responses"]) == 3


def open_page(new_page, log_in, live_server, project, viewport=None, mobile=False):
    page = new_page(viewport or {"width": 1366, "height": 900}, mobile=mobile)
    log_in(page, "manager")
    page.goto(f"{live_server.url}/projects/{project.pk}/import/")
    return page


def drop(page, name: str, data: bytes):
    """Drops a file on the drop zone as a person dragging it from the desktop would."""
    page.evaluate(
        """([name, text]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], name, { type: "application/x-ndjson" }));
            const zone = document.getElementById("dropzone");
            zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
            zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
        }""",
        [name, data.decode()],
    )


def test_drop_preview_error_with_the_file_kept_then_fix_and_follow_the_link(
        new_page, log_in, live_server, project_with_roles, shot):
    project, _ = project_with_roles
    page = open_page(new_page, log_in, live_server, project)
    new_page.allow_http(400, "/items/import/")
    bad = lines(GOOD[0], '{"prompt": "Broken", "responses": ["a", "b"', GOOD[1])
    drop(page, "pairs.jsonl", bad)
    page.wait_for_selector("#preview:not([hidden]) #preview-table tbody tr")
    rows = page.locator("#preview-table tbody tr")
    assert rows.count() == 3
    assert "Question 0?" in rows.nth(0).inner_text() and "Answer 0b" in rows.nth(0).inner_text()
    assert "Line 2: Not valid JSON" in rows.nth(1).inner_text()
    assert page.eval_on_selector("#id_file", "el => el.files[0].name") == "pairs.jsonl"
    assert "pairs.jsonl" in page.inner_text("#chosen-file")
    shot(page, "preview")

    page.click("#import")
    page.wait_for_selector("#import-errors")
    errors = page.inner_text("#import-errors")
    assert "1 line is invalid; nothing was imported." in errors
    assert page.locator("#import-errors tbody tr").first.locator("td").first.inner_text() == "2"
    assert "pairs.jsonl is still chosen" in errors
    assert page.eval_on_selector("#id_file", "el => el.files.length && el.files[0].name") == "pairs.jsonl"
    assert Item.objects.filter(project=project).count() == 0
    shot(page, "error")

    # The fixed file, chosen through the ordinary file input this time.
    page.set_input_files("#id_file", files=[{"name": "pairs.jsonl", "mimeType": "application/x-ndjson",
                                             "buffer": lines(*GOOD)}])
    page.wait_for_function("document.querySelectorAll('#preview-table tbody tr').length === 3 && "
                           "!document.querySelector('#preview-table .bad-line')")
    page.click("#import")
    page.wait_for_selector("#import-result")
    assert page.inner_text("#created") == "3"
    assert Item.objects.filter(project=project).count() == 3
    shot(page, "imported")
    with page.expect_navigation():
        page.click("#items-link")
    assert page.url.rstrip("/").endswith(f"/projects/{project.pk}/items")


def test_gzip_files_have_no_preview_but_import(new_page, log_in, live_server, project_with_roles):
    project, _ = project_with_roles
    page = open_page(new_page, log_in, live_server, project)
    page.set_input_files("#id_file", files=[{"name": "pairs.jsonl.gz", "mimeType": "application/gzip",
                                             "buffer": gzip.compress(lines(*GOOD))}])
    page.wait_for_selector("#preview:not([hidden])")
    assert "Preview unavailable for gzip files" in page.inner_text("#preview-note")
    assert page.locator("#preview-table").is_hidden()
    page.click("#import")
    page.wait_for_selector("#import-result")
    assert page.inner_text("#created") == "3"


def test_the_file_input_is_reachable_by_keyboard_and_labelled(new_page, log_in, live_server,
                                                             project_with_roles, shot):
    project, _ = project_with_roles
    page = open_page(new_page, log_in, live_server, project)
    page.focus("#id_file")
    assert page.evaluate("document.activeElement.id") == "id_file"
    assert page.evaluate("document.querySelector('label[for=id_file]').textContent") == "File"
    described = page.get_attribute("#id_file", "aria-describedby")
    assert "drop-hint" in described
    page.locator("#format-examples").scroll_into_view_if_needed()
    shot(page, "examples")


def test_mobile_layout_with_a_preview_and_an_error(new_page, log_in, live_server, project_with_roles, shot):
    project, _ = project_with_roles
    page = open_page(new_page, log_in, live_server, project, viewport={"width": 390, "height": 844},
                     mobile=True)
    new_page.allow_http(400, "/items/import/")
    page.set_input_files("#id_file", files=[{"name": "pairs.jsonl", "mimeType": "application/x-ndjson",
                                             "buffer": lines(GOOD[0], "{oops")}])
    page.wait_for_selector("#preview-table .bad-line")
    page.locator("#preview").scroll_into_view_if_needed()
    shot(page, "preview")
    page.click("#import")
    page.wait_for_selector("#import-errors")
    page.locator("#import-errors").scroll_into_view_if_needed()
    shot(page, "error")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page scrolls sideways on a phone"
