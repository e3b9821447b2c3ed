"""The whole annotating loop over the API: next, submit, until nothing is left."""

from __future__ import annotations

from collections import Counter

from annotation.models import Annotation, Assignment, Item

from .conftest import add_items, ranking_for


def test_three_annotators_overlap_two_fill_every_item_exactly(make_project, make_annotators,
                                                                client_for):
    project = make_project(overlap=2)
    add_items(project, 50)
    annotators = make_annotators(project, 3)
    clients = {user.pk: client_for(user) for user in annotators}
    finished: set[int] = set()
    rounds = 0
    while len(finished) < len(annotators):
        rounds += 1
        assert rounds < 200, "the loop does not end"
        for user in annotators:
            if user.pk in finished:
                continue
            client = clients[user.pk]
            answer = client.get(f"/api/v1/projects/{project.pk}/next/")
            if answer.status_code == 204:
                finished.add(user.pk)
                continue
            assert answer.status_code == 200, answer.content
            task = answer.json()
            submitted = client.post(f"/api/v1/assignments/{task['assignment']}/submit/",
                                    {"ranking": ranking_for(task)}, format="json")
            assert submitted.status_code == 201, submitted.content

    per_item = Counter(Annotation.objects.filter(project=project).values_list("item_id", flat=True))
    assert len(per_item) == 50
    assert set(per_item.values()) == {2}
    pairs = Annotation.objects.filter(project=project).values_list("item_id", "annotator_id")
    assert len(pairs) == len(set(pairs)) == 100
    assert not Item.objects.filter(project=project).exclude(annotations_done=2).exists()
    assert not Item.objects.filter(project=project, leases_live__gt=0).exists()
    assert not Item.objects.filter(project=project, queue_state__isnull=False).exists()
    assert set(Assignment.objects.filter(project=project).values_list("status", flat=True)) == {
        "submitted"}
    # Every annotator keeps getting 204 once done.
    for user in annotators:
        assert clients[user.pk].get(f"/api/v1/projects/{project.pk}/next/").status_code == 204


def test_next_payload_shape_and_same_lease_again(make_project, make_annotators, client_for):
    project = make_project(overlap=2, responses_per_item=3)
    add_items(project, 3)
    (user,) = make_annotators(project, 1)
    client = client_for(user)
    first = client.get(f"/api/v1/projects/{project.pk}/next/")
    assert first.status_code == 200
    task = first.json()
    assert set(task) >= {"assignment", "item", "lease_expires_at", "reason"}
    assert set(task["item"]) == {"id", "prompt", "responses"}
    assert [set(r) for r in task["item"]["responses"]] == [{"id", "text"}] * 3
    assignment = Assignment.objects.get(pk=task["assignment"])
    assert [r["id"] for r in task["item"]["responses"]] == assignment.display_order
    assert task["reason"] == "oldest open item"
    again = client.get(f"/api/v1/projects/{project.pk}/next/").json()
    assert again == task
    assert Assignment.objects.filter(annotator=user).count() == 1
    assert Item.objects.get(pk=task["item"]["id"]).leases_live == 1


def test_conversation_items_show_messages(make_project, make_annotators, client_for):
    project = make_project()
    (item,) = add_items(project, 1)
    item.prompt = ""
    item.messages = [{"role": "user", "content": "Hi"}]
    item.save()
    (user,) = make_annotators(project, 1)
    task = client_for(user).get(f"/api/v1/projects/{project.pk}/next/").json()
    assert task["item"]["messages"] == [{"role": "user", "content": "Hi"}]
    assert "prompt" not in task["item"]


def test_display_order_is_randomised_per_assignment(make_project, make_annotators, client_for):
    project = make_project(overlap=1, responses_per_item=5)
    add_items(project, 40)
    (user,) = make_annotators(project, 1)
    client = client_for(user)
    orders = set()
    for _ in range(40):
        task = client.get(f"/api/v1/projects/{project.pk}/next/").json()
        ids = [r["id"] for r in task["item"]["responses"]]
        orders.add(tuple(ids.index(rid) for rid in sorted(ids)))
        client.post(f"/api/v1/assignments/{task['assignment']}/submit/",
                    {"ranking": ranking_for(task)}, format="json")
    assert len(orders) > 10


def test_skip_gives_the_item_to_someone_else(make_project, make_annotators, client_for):
    project = make_project(overlap=1)
    add_items(project, 1)
    alice, bob = make_annotators(project, 2)
    task = client_for(alice).get(f"/api/v1/projects/{project.pk}/next/").json()
    assert client_for(bob).get(f"/api/v1/projects/{project.pk}/next/").status_code == 204
    skipped = client_for(alice).post(f"/api/v1/assignments/{task['assignment']}/skip/",
                                     {"reason": "not my language"}, format="json")
    assert skipped.status_code == 200
    assert skipped.json() == {"assignment": task["assignment"], "status": "skipped"}
    assert Assignment.objects.get(pk=task["assignment"]).skip_reason == "not my language"
    assert client_for(alice).get(f"/api/v1/projects/{project.pk}/next/").status_code == 204
    other = client_for(bob).get(f"/api/v1/projects/{project.pk}/next/").json()
    assert other["item"]["id"] == task["item"]["id"]
    # Skipping twice is harmless; submitting a skipped task is a conflict.
    again = client_for(alice).post(f"/api/v1/assignments/{task['assignment']}/skip/",
                                   {"reason": "x"}, format="json")
    assert again.status_code == 200
    assert Item.objects.get(pk=task["item"]["id"]).leases_live == 1
    late = client_for(alice).post(f"/api/v1/assignments/{task['assignment']}/submit/",
                                  {"ranking": ranking_for(task)}, format="json")
    assert late.status_code == 409
    assert late.json()["code"] == "assignment_skipped"
