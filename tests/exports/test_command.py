"""``manage.py export_dataset``: the endpoint's rows into a file, with a progress bar."""

from __future__ import annotations

import gzip
import io
import json

import pytest
from django.core.management import CommandError, call_command

from .test_export_api import body_of, url, world  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("export_dataset", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_writes_the_same_rows_as_the_endpoint(world, client_for, tmp_path):  # noqa: F811
    project, people, _ = world
    client = client_for(people["manager"])
    target = tmp_path / "pairs.jsonl"
    out, err = run(str(project.pk), "--format", "trl", "--out", str(target),
                   "--filter", "ties=keep", "--filter", "include_gold=true")
    assert target.read_bytes() == body_of(client.get(url(project, ties="keep",
                                                         include_gold="true")))
    summary = json.loads(out.splitlines()[0])
    assert summary["rows"] == len(target.read_bytes().splitlines()) == 5
    assert "export trl" in err and "5/5" in err  # the progress bar, on standard error
    packed = tmp_path / "annotations.jsonl.gz"
    run(project.name, "--format", "annotations", "--out", str(packed), "--no-progress")
    assert gzip.decompress(packed.read_bytes()) == body_of(
        client.get(url(project, format="annotations")))


def test_parquet_out(world, tmp_path):  # noqa: F811
    import pyarrow.parquet as pq

    project, _, items = world
    target = tmp_path / "consensus.parquet"
    out, _ = run(str(project.pk), "--format", "consensus", "--out", str(target),
                 "--no-progress")
    table = pq.read_table(target)
    assert table.column("item_id").to_pylist() == [items[n].pk for n in "ABCD"]
    assert json.loads(out.splitlines()[0])["rows"] == 4


@pytest.mark.parametrize("args,message", [
    (["--filter", "min_agreement=2"], "min_agreement"),
    (["--filter", "nonsense"], "key=value"),
    (["--filter", "format=trl"], "--format"),
])
def test_bad_filters_are_refused(world, tmp_path, args, message):  # noqa: F811
    project, _, _ = world
    with pytest.raises(CommandError, match=message):
        run(str(project.pk), "--out", str(tmp_path / "x.jsonl"), *args)
    assert not (tmp_path / "x.jsonl").exists()


def test_unknown_project(db, tmp_path):
    with pytest.raises(CommandError, match="No project"):
        run("no such project", "--out", str(tmp_path / "x.jsonl"))


def test_parquet_of_a_mixed_trl_export_is_conversational(world, tmp_path):  # noqa: F811
    import pyarrow.parquet as pq

    project, _, _ = world
    target = tmp_path / "pairs.parquet"
    run(str(project.pk), "--out", str(target), "--no-progress")
    prompts = pq.read_table(target).column("prompt").to_pylist()
    assert prompts[0] == [{"role": "user", "content": "Prompt A"}] and len(prompts) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pairs.parquet"]
