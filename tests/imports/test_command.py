"""``manage.py import_items``: the same import from a shell, with a progress bar."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from .conftest import counts, gz, jsonl


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_items", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.slow
def test_imports_the_real_hh_rlhf_file_by_project_id(project_with_roles, hh_rlhf_path):
    project, _ = project_with_roles
    out, err = run(project.pk, hh_rlhf_path, "--format", "hh-rlhf")
    result = json.loads(out.splitlines()[0])
    assert result["created"] + result["duplicates"] == 2312
    assert result["imported_labels"] == result["created"]
    assert f"Imported {result['created']} items into 'Helpfulness'" in out
    assert "2312/2312" in err  # the progress bar counted every line
    assert counts(project)["items"] == result["created"]


def test_project_by_name_and_labels_none(project_with_roles, tmp_path):
    project, _ = project_with_roles
    path = tmp_path / "pairs.jsonl.gz"
    path.write_bytes(gz(jsonl({"prompt": "p", "chosen": "a", "rejected": "b"})))
    out, _ = run("Helpfulness", path, "--format", "trl", "--labels", "none", "--no-progress")
    assert json.loads(out.splitlines()[0]) == {"created": 1, "prompts": 0, "duplicates": 0,
                                               "imported_labels": 0, "gold": 0,
                                               "empty_responses": 0}
    assert counts(project) == {"items": 1, "responses": 2, "annotations": 0}


def test_bad_lines_are_listed_and_the_exit_status_is_not_zero(project_with_roles, tmp_path):
    project, _ = project_with_roles
    path = tmp_path / "items.jsonl"
    path.write_bytes(jsonl({"prompt": "p", "responses": ["a", "b"]}, {"prompt": 1},
                           {"prompt": "q", "responses": ["a"]}))
    err = io.StringIO()
    # Django's command runner exits with CommandError.returncode.
    with pytest.raises(CommandError) as failure:
        call_command("import_items", str(project.pk), str(path), "--no-progress", stderr=err)
    assert failure.value.returncode == 1
    assert str(failure.value) == "2 lines are invalid; nothing was imported."
    err = err.getvalue()
    assert "line 2: prompt must be a string, not a number." in err
    assert "line 3: Expected 2 responses (the project's K), got 1." in err
    assert counts(project)["items"] == 0


@pytest.mark.parametrize("args,message", [
    (["Nope", "{file}"], "No project with id or name 'Nope'."),
    (["{project}", "/nonexistent.jsonl"], "No such file: /nonexistent.jsonl"),
])
def test_unknown_project_or_file(project_with_roles, tmp_path, args, message):
    project, _ = project_with_roles
    path = tmp_path / "x.jsonl"
    path.write_bytes(jsonl({"prompt": "p", "responses": ["a", "b"]}))
    args = [a.format(file=path, project=project.pk) for a in args]
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_pair_format_into_a_k3_project_fails(project_k3, tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(jsonl({"prompt": "p", "chosen": "a", "rejected": "b"}))
    with pytest.raises(CommandError, match="format: trl lines hold 2 responses"):
        run(project_k3.pk, path, "--format", "trl")
