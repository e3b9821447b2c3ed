"""The manager's console in Chromium, as a team lead uses it: create a project, create two
annotators' accounts and add them, change a role and back, pause and resume, fix a bad
setting, write a guideline watching its preview, publish it; an annotator acknowledges it
and the manager sees that. Screenshots of every console page at 1366x900 and 390x844."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from annotation.models import Membership, Project
from tests.conftest import MOBILE

DESKTOP = {"width": 1366, "height": 900}
NEW_PASSWORD = "plum-kettle-autumn-42"
GUIDELINE = ("# Be kind\n\nRank the answer that **helps** most first.\n\n"
             "- Ties are fine when two are equally good\n- Flag anything *harmful*\n")


def row(page, username: str):
    return page.locator(f"#member-{username}")


def submit(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_team_lead_sets_up_and_runs_a_project(live_server, new_page, log_in, shot,
                                                make_user):
    lead = make_user("team-lead")
    lead.user_permissions.add(Permission.objects.get(codename="add_project"))
    page = new_page(DESKTOP)
    log_in(page, "team-lead")

    # A new project, from the home page's button.
    shot(page, "home")
    submit(page, "#new-project")
    shot(page, "new-project")
    page.fill("#id_name", "Kind answers")
    page.fill("#id_description", "Which of three answers is kindest?")
    page.fill("#id_responses_per_item", "3")
    page.fill("#id_overlap", "2")
    page.fill("#id_flags", "harmful\nrude")
    submit(page, "#create-project")
    project = Project.objects.get(name="Kind answers")
    assert page.url == f"{live_server.url}/projects/{project.pk}/"
    assert project.responses_per_item == 3 and project.settings == {"flags": ["harmful", "rude"]}
    shot(page, "project-page")

    # Two annotators' accounts, added at once.
    submit(page, "#members-summary a")
    for username in ("ann-one", "ann-two"):
        page.fill("#new_username", username)
        page.fill("#new_password", NEW_PASSWORD)
        page.select_option("#new_role", "annotator")
        submit(page, "#new-user button[type=submit]")
        assert f"Account {username} created and added as annotator." in page.inner_text(
            ".messages")
    assert row(page, "ann-one").get_attribute("data-role") == "annotator"
    assert row(page, "ann-two").get_attribute("data-status") == "active"

    # A role changed and back; a pause with a reason, then a resume.
    row(page, "ann-one").locator(".role-select").select_option("reviewer")
    submit(page, "#member-ann-one .change-role")
    assert row(page, "ann-one").get_attribute("data-role") == "reviewer"
    row(page, "ann-one").locator(".role-select").select_option("annotator")
    submit(page, "#member-ann-one .change-role")
    assert row(page, "ann-one").get_attribute("data-role") == "annotator"
    row(page, "ann-two").locator("input[name=reason]").fill("Checking label speed")
    submit(page, "#member-ann-two .pause")
    assert row(page, "ann-two").get_attribute("data-status") == "paused"
    assert "Checking label speed" in row(page, "ann-two").inner_text()
    shot(page, "members-one-paused")
    submit(page, "#member-ann-two .resume")
    assert row(page, "ann-two").get_attribute("data-status") == "active"
    assert Membership.objects.get(project=project, user__username="ann-two").status == "active"

    # A bad setting is named next to its field, the input kept; then fixed.
    submit(page, ".tabs a:text('Settings')")
    shot(page, "settings")
    new_page.allow_http(400, f"/projects/{project.pk}/settings/")
    page.click("#section-quality summary")
    page.fill("#id_quality__min_labels", "0")
    submit(page, "#save-settings")
    problem = page.locator("#section-quality .field.has-error")
    assert problem.locator(".field-problem").inner_text() == "must be at least 1"
    assert page.input_value("#id_quality__min_labels") == "0"
    problem.scroll_into_view_if_needed()
    shot(page, "settings-bad-value")
    page.fill("#id_quality__min_labels", "10")
    submit(page, "#save-settings")
    assert "Settings saved." in page.inner_text(".messages")
    project.refresh_from_db()
    assert project.settings["quality"] == {"min_labels": 10}

    # The guideline, with its preview following the typing, published.
    submit(page, ".tabs a:text('Guidelines')")
    page.fill("#id_text", GUIDELINE)
    page.wait_for_function(
        "() => { const p = document.querySelector('#guideline-preview');"
        " return p.dataset.state === 'ready' && p.querySelector('h1')"
        " && p.querySelector('strong').textContent === 'helps'; }")
    assert page.locator("#guideline-preview li").count() == 2
    assert page.locator("#preview-button").is_hidden()  # the no-JavaScript button
    shot(page, "guideline-preview")
    submit(page, "#publish")
    assert "Version 1 published." in page.inner_text(".messages")
    assert "v1" in page.inner_text("#versions") and "0 of 3" in page.inner_text("#versions")
    assert page.get_attribute("#ack-ann-one", "data-version") == ""
    assert "not yet" in page.inner_text("#ack-ann-one")

    # An annotator reads and acknowledges it; the manager's page then says so.
    annotator = new_page(DESKTOP)
    log_in(annotator, "ann-one", NEW_PASSWORD)
    annotator.goto(f"{live_server.url}/projects/{project.pk}/")
    submit(annotator, f"a[href='/projects/{project.pk}/guidelines/']")
    assert "Rank the answer that helps most first." in annotator.inner_text("#guideline-text")
    submit(annotator, "#acknowledge")
    page.reload()
    assert page.get_attribute("#ack-ann-one", "data-version") == "1"
    assert "v1 ✓" in page.inner_text("#ack-ann-one")
    assert "not yet" in page.inner_text("#ack-ann-two")
    assert "1 of 3" in page.inner_text("#versions")
    page.locator("#acknowledgements").scroll_into_view_if_needed()
    shot(page, "guideline-acknowledged")
    page.goto(f"{live_server.url}/projects/{project.pk}/members/")
    assert "v1 ✓" in row(page, "ann-one").inner_text()
    shot(page, "members")

    # Every page on a phone.
    phone = new_page(MOBILE, mobile=True)
    log_in(phone, "team-lead")
    for step, path in (("new-project", "new/"), ("settings", f"{project.pk}/settings/"),
                       ("members", f"{project.pk}/members/"),
                       ("guidelines", f"{project.pk}/guidelines/edit/")):
        phone.goto(f"{live_server.url}/projects/{path}")
        shot(phone, f"mobile-{step}")
    phone.locator("#guideline-preview").scroll_into_view_if_needed()
    shot(phone, "mobile-guideline-preview")
    phone.goto(f"{live_server.url}/projects/{project.pk}/members/")
    row(phone, "ann-one").scroll_into_view_if_needed()
    shot(phone, "mobile-member-card")
