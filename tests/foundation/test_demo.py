from django.core.management import call_command

from annotation.demo import PROJECT_NAME
from annotation.models import Item, Project


def test_load_demo_creates_project_users_and_items_once(db, client, capsys):
    call_command("load_demo")
    call_command("load_demo")  # idempotent: nothing doubles
    out = capsys.readouterr().out
    assert "demo-annotator-1" in out and "password:" in out
    project = Project.objects.get(name=PROJECT_NAME)
    items = Item.objects.filter(project=project)
    assert items.count() == 8
    assert all(item.responses.count() == 3 for item in items)
    assert items.filter(is_gold=True).count() == 2
    assert project.guidelines.count() == 1
    roles = dict(project.memberships.values_list("user__username", "role"))
    assert roles == {"demo-manager": "manager", "demo-annotator-1": "annotator",
                     "demo-annotator-2": "annotator"}
    login = client.post("/login/", {"username": "demo-annotator-1",
                                    "password": "rankwise-demo-annotator"})
    assert login.status_code == 302
    assert PROJECT_NAME in client.get("/").content.decode()
