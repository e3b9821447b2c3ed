"""The judges' admin pages: every model listed; a verdict can be read, never added,
changed or deleted."""

from __future__ import annotations

import pytest
from django.urls import reverse

from judges import services
from judges.models import JudgeVerdict
from tests.judges_engine.test_http_backend import serve

from .conftest import openai_judge

pytestmark = pytest.mark.django_db


def test_the_judges_models_have_admin_pages_and_verdicts_are_read_only(world, admin_client):
    project, users, _items, _constitution = world
    with serve() as (url, _endpoint):
        judge = openai_judge(project, users["manager"], url)
        run = services.execute_run(run_id=services.request_run(actor=users["manager"],
                                                               judge=judge).pk)
    for model in ("constitution", "judge", "judgerun", "judgeverdict"):
        page = admin_client.get(reverse(f"admin:judges_{model}_changelist"))
        assert page.status_code == 200, model
    assert admin_client.get(reverse("admin:judges_judgerun_change", args=[run.pk])
                            ).status_code == 200

    verdict = JudgeVerdict.objects.first()
    stored = verdict.verdict
    change = reverse("admin:judges_judgeverdict_change", args=[verdict.pk])
    page = admin_client.get(change)
    assert page.status_code == 200 and verdict.raw in page.content.decode()
    assert b'name="_save"' not in page.content
    assert admin_client.post(change, {"verdict": "B", "raw": "edited"}).status_code == 403
    assert admin_client.get(reverse("admin:judges_judgeverdict_add")).status_code == 403
    delete = reverse("admin:judges_judgeverdict_delete", args=[verdict.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    verdict.refresh_from_db()
    assert (verdict.verdict, JudgeVerdict.objects.count()) == (stored, 4)
