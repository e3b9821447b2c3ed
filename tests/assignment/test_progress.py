"""The annotator's progress from the server: the project's "x of y" and their own count."""

from __future__ import annotations

from annotation.models import Item

from .conftest import add_items, ranking_for


def _progress(client, project):
    answer = client.get(f"/api/v1/projects/{project.pk}/my-progress/")
    assert answer.status_code == 200, answer.content
    return answer.json()


def test_progress_counts_labels_of_the_project_and_of_the_caller(make_project,
                                                                 make_annotators, client_for):
    project = make_project(responses_per_item=2, overlap=2)
    add_items(project, 3)
    add_items(project, 2, gold=True, start=10)
    one, two = (client_for(user) for user in make_annotators(project, 2))
    assert _progress(one, project) == {
        "done": 0, "needed": 6, "items_complete": 0, "items_total": 3, "overlap": 2,
        "submitted_by_you": 0, "left_for_you": 3}
    for _ in range(2):
        task = one.get(f"/api/v1/projects/{project.pk}/next/").json()
        assert one.post(task["submit_url"], {"ranking": ranking_for(task)},
                        format="json").status_code == 201
    task = two.get(f"/api/v1/projects/{project.pk}/next/").json()
    two.post(task["submit_url"], {"ranking": ranking_for(task)}, format="json")
    mine, theirs = _progress(one, project), _progress(two, project)
    assert (mine["done"], mine["needed"], mine["items_complete"]) == (3, 6, 1)
    assert (mine["submitted_by_you"], mine["left_for_you"]) == (2, 1)
    assert (theirs["done"], theirs["submitted_by_you"], theirs["left_for_you"]) == (3, 1, 2)


def test_a_label_past_the_overlap_is_not_counted_twice(make_project, make_annotators,
                                                       client_for):
    project = make_project(responses_per_item=2, overlap=1)
    (item,) = add_items(project, 1)
    (user,) = make_annotators(project, 1)
    Item.objects.filter(pk=item.pk).update(annotations_done=3)
    assert _progress(client_for(user), project)["done"] == 1


def test_a_revision_moves_no_counter(make_project, make_annotators, client_for):
    project = make_project(responses_per_item=2, overlap=2)
    add_items(project, 1)
    (user,) = make_annotators(project, 1)
    client = client_for(user)
    task = client.get(f"/api/v1/projects/{project.pk}/next/").json()
    label = client.post(task["submit_url"], {"ranking": ranking_for(task)},
                        format="json").json()["annotation"]
    before = _progress(client, project)
    assert client.post(f"/api/v1/annotations/{label}/revise/",
                       {"ranking": list(reversed(ranking_for(task)))},
                       format="json").status_code == 201
    assert _progress(client, project) == before


def test_outsiders_get_404_and_anonymous_401(make_project, make_user, client_for):
    project = make_project()
    assert client_for(make_user("outsider")).get(
        f"/api/v1/projects/{project.pk}/my-progress/").status_code == 404
    assert client_for(None).get(f"/api/v1/projects/{project.pk}/my-progress/").status_code == 401


def test_my_labels_lists_only_the_callers_labels_newest_first(make_project, make_annotators,
                                                              client_for):
    project = make_project(responses_per_item=2, overlap=2)
    add_items(project, 3)
    add_items(project, 1, gold=True, start=10)
    one, two = (client_for(user) for user in make_annotators(project, 2))
    mine = []
    for _ in range(3):
        task = one.get(f"/api/v1/projects/{project.pk}/next/").json()
        mine.append(one.post(task["submit_url"], {"ranking": ranking_for(task),
                                                  "rationale": "mine"},
                             format="json").json()["annotation"])
    task = two.get(f"/api/v1/projects/{project.pk}/next/").json()
    two.post(task["submit_url"], {"ranking": ranking_for(task), "rationale": "theirs"},
             format="json")
    page = one.get(f"/api/v1/projects/{project.pk}/my-labels/?page_size=2").json()
    assert (page["count"], page["pages"], page["page"]) == (3, 2, 1)
    assert [entry["id"] for entry in page["results"]] == mine[::-1][:2]
    rest = one.get(f"/api/v1/projects/{project.pk}/my-labels/?page=2&page_size=2").json()
    assert [entry["id"] for entry in rest["results"]] == mine[:1]
    assert all(entry["why"] == "mine" for entry in page["results"] + rest["results"])
    text = str(page) + str(rest)
    assert "theirs" not in text and "gold" not in text
    # A revision comes first; the label it replaced stays in the list, marked.
    revised = one.post(f"/api/v1/annotations/{mine[0]}/revise/", {
        "ranking": [[1]], }, format="json")
    assert revised.status_code == 400
    entry = one.get(f"/api/v1/annotations/{mine[0]}/").json()
    body = {"ranking": list(reversed(entry["ranking"]))}
    new = one.post(f"/api/v1/annotations/{mine[0]}/revise/", body, format="json").json()
    listed = one.get(f"/api/v1/projects/{project.pk}/my-labels/").json()["results"]
    assert [e["id"] for e in listed][:1] == [new["annotation"]]
    old = next(e for e in listed if e["id"] == mine[0])
    assert (old["superseded"], old["revisable"]) == (True, False)
    assert listed[0]["revises"] == mine[0]
    assert old["display_order"] == listed[0]["display_order"] != []


def test_bad_pages_are_400_and_big_ones_are_capped(make_project, make_annotators, client_for):
    project = make_project()
    (user,) = make_annotators(project, 1)
    client = client_for(user)
    bad = client.get(f"/api/v1/projects/{project.pk}/my-labels/?page=x")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "page"
    capped = client.get(f"/api/v1/projects/{project.pk}/my-labels/?page_size=1000").json()
    assert capped["page_size"] == 100
