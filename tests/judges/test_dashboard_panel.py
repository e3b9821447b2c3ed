"""The "AI judges" section of the quality dashboard: what a manager sees (figures beside
the human ceiling, position bias, the reliability diagram, per-principle rows), that
reviewers don't, the empty state, and the page in Chromium on a laptop and a phone."""

from __future__ import annotations

import random
import re

import pytest

from annotation.quality import panels
from judges import services
from judges.dashboard import panel
from tests.exports.test_export_api import make_item

from .conftest import PRINCIPLES, human
from .test_trust import ai_label

READY = "#dashboard[data-state=ready]"
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def labelled(project, users, n_items: int = 30, seed: int = 1):
    """``n_items`` items two people labelled alike (A on even items, B on odd), an openai
    judge right on four items in five with a soft preference, and a reward-model judge."""
    draw = random.Random(seed)
    manager = users["manager"]
    if not project.constitutions.exists():
        services.publish_constitution(actor=manager, project=project, principles=PRINCIPLES)
    gpt = services.create_judge(actor=manager, project=project, name="gpt-judge",
                                backend="openai", model="judge-7b",
                                base_url="http://127.0.0.1:9/v1")
    rm = services.create_judge(actor=manager, project=project, name="reward model",
                               backend="reward_model")
    for n in range(n_items):
        item, ids = make_item(project, [f"first {n}", f"second {n}"], prompt=f"Q {n}")
        winner = n % 2
        for person in (users["manager"], users["reviewer"]):
            human(item, person, winner, ids)
        right = n % 5 != 0
        says_a = (winner == 0) == right
        p = draw.uniform(0.55, 0.98) if says_a else draw.uniform(0.02, 0.45)
        ai_label(gpt, item, ids, "A" if says_a else "B", p, swapped=n % 3 == 0,
                 principle=PRINCIPLES[n // 2 % 2]["name"])
        ai_label(rm, item, ids, "A" if says_a else "B", p)
    return gpt, rm


def html_for(user, project) -> str | None:
    request = type("Request", (), {"user": user})()
    return panel(request, project)


@pytest.mark.django_db
def test_the_panel_is_registered_and_only_managers_see_it(world, client_for):
    project, users, _items, _constitution = world
    assert panel in panels.PANELS
    labelled(project, users, n_items=10)
    assert html_for(users["reviewer"], project) is None
    assert html_for(users["outsider"], project) is None
    html = html_for(users["manager"], project)
    assert "AI judges" in html and "gpt-judge" in html and "reward model" in html
    client = client_for(users["manager"])
    client.force_login(users["manager"])
    page = client.get(f"/projects/{project.pk}/dashboard/").content.decode()
    assert 'id="ai-judges"' in page
    client.force_login(users["reviewer"])
    page = client.get(f"/projects/{project.pk}/dashboard/").content.decode()
    assert 'id="ai-judges"' not in page and 'id="dashboard"' in page


@pytest.mark.django_db
def test_the_panel_shows_each_judges_figures(world):
    project, users, _items, _constitution = world
    gpt, rm = labelled(project, users, n_items=10)
    html = html_for(users["manager"], project)
    row = html[html.index(f'id="judge-{gpt.pk}"'):html.index(f'id="judge-{rm.pk}"')]
    # 10 items, right on 8 (every fifth wrong); the people always agree: ceiling 100%.
    assert re.search(r'class="n-items">10<', row)
    assert '<span class="agreement">80%</span> <span class="beside">people 100%</span>' in row
    # κ of 8/10 agreement with balanced A/B on both sides: (0.8 − 0.5) / 0.5 = 0.60.
    assert 'class="kappa">0.60<' in row
    # First shown won: unswapped A or swapped B. Items 0..9, swapped on 0, 3, 6, 9.
    wins = sum((v.verdict == "A") != v.swapped for v in gpt.verdicts.all())
    assert f'class="bias-rate">{wins / 10:.2f}<' in row
    assert "n = 10" in row and "<details" in row and ">harmless<" in row and ">honest<" in row
    assert row.count('<circle class="point"') == sum(1 for _ in _filled_bins(gpt))
    assert 'class="perfect"' in row and "Predicted P(A better)" in row
    assert "Observed share A better" in row
    rm_row = html[html.index(f'id="judge-{rm.pk}"'):]
    assert "scores each response alone" in rm_row


def _filled_bins(judge):
    from judges import selectors

    return [b for b in selectors.agreement(judge=judge)["reliability"] if b["n"]]


@pytest.mark.django_db
def test_the_empty_state(world):
    project, users, items, _constitution = world
    services.create_judge(actor=users["manager"], project=project, name="idle",
                          backend="reward_model")
    html = html_for(users["manager"], project)
    assert "No AI judge has labelled items people labelled too." in html
    assert "judge-" not in html.split("ai-judges-empty")[1]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_the_panel_in_the_browser(project_with_roles, live_server, new_page, log_in, shot,
                                  viewport):
    project, users = project_with_roles
    gpt, _rm = labelled(project, users)
    phone = viewport is PHONE
    page = new_page(viewport, mobile=phone)
    log_in(page, "manager")
    page.goto(f"{live_server.url}/projects/{project.pk}/dashboard/")
    page.wait_for_selector(READY)
    section = page.locator("#ai-judges")
    section.scroll_into_view_if_needed()
    assert section.locator("h2").inner_text() == "AI judges"
    assert section.locator("article.judge").count() == 2
    shot(page, "ai-judges")
    figure = page.locator(f"#judge-{gpt.pk} svg.reliability")
    figure.scroll_into_view_if_needed()
    box = figure.bounding_box()
    assert box["width"] > 200 and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
    shot(page, "reliability")
    page.locator(f"#judge-{gpt.pk} details summary").click()
    table = page.locator(f"#judge-{gpt.pk} details table")
    assert table.is_visible()
    table.scroll_into_view_if_needed()
    shot(page, "by-principle")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
