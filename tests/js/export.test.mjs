import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  anyBuilding, bytesText, cellText, cleanFilters, countText, fieldProblems, paramsText,
  previewColumns, progressPercent, queryOf, sinceParam, snapshotBody, snapshotFiles, statusText,
  withQuery,
} from "../../annotation/static/annotation/js/exporting.js";

describe("the filters as the endpoint reads them", () => {
  test("empty fields are left out, so the API applies its defaults", () => {
    const filters = cleanFilters({ format: "trl", consensus: "", min_agreement: "  ", ties: "drop",
      include_gold: false, annotators: [] });
    assert.deepEqual(filters, { format: "trl", ties: "drop" });
    assert.equal(queryOf(filters), "format=trl&ties=drop");
  });

  test("every filter, in a fixed order, annotators as sorted unique ids", () => {
    const filters = cleanFilters({
      split: "test", source: "human", annotators: ["12", "3", "12"], include_gold: "on",
      min_annotations: "2", min_agreement: "0.75", format: "consensus", consensus: "dawid_skene",
      ties: "keep", guideline_version: "2", split_seed: "7", test_size: "0.2",
    });
    assert.deepEqual(filters.annotators, [3, 12]);
    const query = new URLSearchParams(queryOf(filters, { preview: 10 }));
    assert.deepEqual([...query.keys()], ["format", "consensus", "ties", "min_agreement",
      "min_annotations", "include_gold", "annotators", "guideline_version", "source", "split",
      "split_seed", "test_size", "preview"]);
    assert.equal(query.get("annotators"), "3,12");
    assert.equal(query.get("include_gold"), "true");
    assert.equal(query.get("preview"), "10");
  });

  test("the split's seed and test share travel only with a split", () => {
    const filters = cleanFilters({ format: "trl", split: "", split_seed: "0", test_size: "0.1" });
    assert.deepEqual(filters, { format: "trl" });
  });

  test("values are escaped", () => {
    const query = queryOf({ format: "hh-rlhf", since: "2024-05-01T08:00:00.000Z" }, { compress: "gzip" });
    assert.equal(query, "format=hh-rlhf&since=2024-05-01T08%3A00%3A00.000Z&compress=gzip");
    assert.equal(new URLSearchParams(query).get("since"), "2024-05-01T08:00:00.000Z");
  });

  test("an extra parameter that is empty is left out", () => {
    assert.equal(queryOf({ format: "trl" }, { compress: "", preview: null }), "format=trl");
  });

  test("withQuery joins with ? or &", () => {
    assert.equal(withQuery("/x/", "a=1"), "/x/?a=1");
    assert.equal(withQuery("/x/?b=2", "a=1"), "/x/?b=2&a=1");
    assert.equal(withQuery("/x/", ""), "/x/");
  });
});

describe("since", () => {
  test("a local date and time becomes the same instant in UTC", () => {
    const local = "2024-05-01T10:30";
    assert.equal(sinceParam(local), new Date(local).toISOString());
    // A fixed parse shows the conversion itself, whatever the test machine's zone.
    assert.equal(sinceParam(local, () => new Date(Date.UTC(2024, 4, 1, 8, 30))),
      "2024-05-01T08:30:00.000Z");
  });

  test("empty or unreadable is no filter", () => {
    assert.equal(sinceParam(""), "");
    assert.equal(sinceParam(undefined), "");
    assert.equal(sinceParam("not a date"), "");
    assert.deepEqual(cleanFilters({ format: "trl", since: "yesterday-ish" }), { format: "trl" });
  });
});

describe("a snapshot's body", () => {
  test("numbers as numbers, the rest as they are", () => {
    const body = snapshotBody(cleanFilters({
      format: "trl", min_agreement: "0.8", min_annotations: "3", guideline_version: "2",
      annotators: ["5"], include_gold: true, split: "train", split_seed: "4", test_size: "0.25",
    }));
    assert.deepEqual(body, {
      format: "trl", min_agreement: 0.8, min_annotations: 3, include_gold: true, annotators: [5],
      guideline_version: 2, split: "train", split_seed: 4, test_size: 0.25,
    });
  });
});

describe("the preview table", () => {
  test("the format's columns first, then any others the rows carry", () => {
    const rows = [{ margin: 1, extra: "x", prompt: "p", chosen: "a", rejected: "b", item_id: 3 },
      { item_id: 4, tie: true, prompt: "q", chosen: "c", rejected: "d", margin: 0 }];
    assert.deepEqual(previewColumns("trl", rows),
      ["item_id", "prompt", "chosen", "rejected", "margin", "tie", "extra"]);
    assert.deepEqual(previewColumns("trl", []), []);
    assert.deepEqual(previewColumns("unknown", [{ b: 1, a: 2 }]), ["b", "a"]);
  });

  test("cells: conversations as turns, numbers to three places, empty text marked", () => {
    assert.equal(cellText([{ role: "user", content: "Hi\nthere" }, { role: "assistant", content: "" }]),
      "user: Hi there · assistant: (empty)");
    assert.equal(cellText(0.83333), "0.833");
    assert.equal(cellText(12), "12");
    assert.equal(cellText(""), "(empty)");
    assert.equal(cellText("   "), "(empty)");
    assert.equal(cellText(null), "–");
    assert.equal(cellText(true), "yes");
    assert.equal(cellText([[3], [1, 2]]), "[[3],[1,2]]");
    assert.equal(cellText("abcdefghij", 6), "abcde…");
  });

  test("counts read as rows", () => {
    assert.equal(countText(1), "1 row");
    assert.equal(countText(1234567), "1,234,567 rows");
    assert.equal(countText(0), "0 rows");
    assert.equal(countText(null), "–");
  });

  test("bad parameters by field, the first message of each", () => {
    const body = { detail: "bad", errors: [{ field: "min_agreement", message: "must be 0..1" },
      { field: "min_agreement", message: "again" }, { line: 3, message: "not a field" }, null] };
    assert.deepEqual(fieldProblems(body), { min_agreement: "must be 0..1" });
    assert.deepEqual(fieldProblems(null), {});
  });
});

describe("snapshots", () => {
  const ready = { id: "a", status: "ready", progress: 1, download_url: "/d/jsonl",
    parquet_url: "/d/parquet", card_url: "/d/card" };

  test("polling goes on while one is queued or running", () => {
    assert.equal(anyBuilding([ready]), false);
    assert.equal(anyBuilding([ready, { status: "queued" }]), true);
    assert.equal(anyBuilding([{ status: "running" }]), true);
    assert.equal(anyBuilding([{ status: "failed" }]), false);
    assert.equal(anyBuilding([]), false);
  });

  test("status and progress", () => {
    assert.equal(statusText({ status: "running", progress: 0.424 }), "building 42%");
    assert.equal(statusText({ status: "queued", progress: 0 }), "queued");
    assert.equal(statusText({ status: "failed", detail: "disk full" }), "failed: disk full");
    assert.equal(progressPercent({ status: "running", progress: 1.7 }), 100);
    assert.equal(progressPercent({ status: "running", progress: "x" }), 0);
    assert.equal(progressPercent({ status: "ready", progress: 0.2 }), 100);
  });

  test("only a ready snapshot offers its files", () => {
    assert.deepEqual(snapshotFiles(ready).map((f) => f.key), ["jsonl", "parquet", "card"]);
    assert.deepEqual(snapshotFiles({ ...ready, status: "running" }), []);
    assert.deepEqual(snapshotFiles({ ...ready, parquet_url: null }).map((f) => f.key), ["jsonl", "card"]);
  });

  test("a snapshot's filters: only those that differ from the defaults", () => {
    const stored = { format: "trl", min_agreement: 0.7, min_annotations: null, include_gold: false,
      annotators: [3, 4], guideline_version: null, since: null, consensus: "majority",
      ties: "drop", source: null, split: null, split_seed: 0, test_size: 0.1 };
    assert.equal(paramsText(stored), "min_agreement=0.7 · annotators=3,4 · consensus=majority");
    assert.equal(paramsText({ ...stored, split: "test", test_size: 0.2, ties: "keep" }),
      "min_agreement=0.7 · annotators=3,4 · consensus=majority · ties=keep · split=test · test_size=0.2");
    assert.equal(paramsText({ format: "trl", split_seed: 5 }), "no filters");
    assert.equal(paramsText(null), "no filters");
  });

  test("sizes in decimal units", () => {
    assert.equal(bytesText(999), "999 B");
    assert.equal(bytesText(1500), "1.5 KB");
    assert.equal(bytesText(25_300_000), "25 MB");
    assert.equal(bytesText(null), "");
  });
});
