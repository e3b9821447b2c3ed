import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ANNOTATOR_FIELDS } from "../../annotation/static/annotation/js/figures.js";
import { ariaSort, compareValues, nextSort, sortRows } from "../../annotation/static/annotation/js/table.js";

const columns = [
  { key: "name", value: (r) => r.name },
  { key: "score", numeric: true, value: (r) => r.score },
  { key: "tags", value: (r) => r.tags },
  { key: "actions", sortable: false, value: () => null },
];
const rows = [
  { name: "ann10", score: 0.5, tags: ["a"] },
  { name: "ann2", score: null, tags: [] },
  { name: "Bob", score: 0.9, tags: ["a", "b"] },
  { name: "ann1", score: 0.5, tags: ["b"] },
];
const names = (list) => list.map((r) => r.name);

describe("comparing values", () => {
  test("numbers by value, text in natural order and without case", () => {
    assert.ok(compareValues(2, 10) < 0);
    assert.ok(compareValues("ann2", "ann10") < 0);
    assert.ok(compareValues("bob", "Bob") === 0);
    assert.ok(compareValues(false, true) < 0);
  });

  test("lists by length, then by what they hold", () => {
    assert.ok(compareValues(["z"], ["a", "b"]) < 0);
    assert.ok(compareValues(["a"], ["b"]) < 0);
  });
});

describe("sorting rows", () => {
  test("ascending and descending by a number; missing values last both ways", () => {
    assert.deepEqual(names(sortRows(rows, columns, { key: "score", direction: "ascending" })), ["ann10", "ann1", "Bob", "ann2"]);
    assert.deepEqual(names(sortRows(rows, columns, { key: "score", direction: "descending" })), ["Bob", "ann10", "ann1", "ann2"]);
  });

  test("ties keep the order they came in (a stable sort)", () => {
    const asc = sortRows(rows, columns, { key: "score", direction: "ascending" });
    const desc = sortRows(rows, columns, { key: "score", direction: "descending" });
    assert.deepEqual(names(asc).filter((n) => n.startsWith("ann1")), ["ann10", "ann1"]);
    assert.deepEqual(names(desc).filter((n) => n.startsWith("ann1")), ["ann10", "ann1"]);
  });

  test("text in natural order", () => {
    assert.deepEqual(names(sortRows(rows, columns, { key: "name", direction: "ascending" })), ["ann1", "ann2", "ann10", "Bob"]);
  });

  test("no sort, or an unknown column, leaves the order and the input alone", () => {
    const copy = rows.slice();
    assert.deepEqual(sortRows(rows, columns, null), rows);
    assert.deepEqual(sortRows(rows, columns, { key: "nope", direction: "ascending" }), rows);
    sortRows(rows, columns, { key: "name", direction: "descending" });
    assert.deepEqual(rows, copy);
  });
});

describe("clicking headers", () => {
  test("a new column starts ascending for text and descending for numbers", () => {
    assert.deepEqual(nextSort(null, "name", columns), { key: "name", direction: "ascending" });
    assert.deepEqual(nextSort({ key: "name", direction: "ascending" }, "score", columns), { key: "score", direction: "descending" });
  });

  test("the same column flips", () => {
    const once = nextSort(null, "name", columns);
    const twice = nextSort(once, "name", columns);
    assert.equal(twice.direction, "descending");
    assert.equal(nextSort(twice, "name", columns).direction, "ascending");
  });

  test("a column that does not sort changes nothing", () => {
    const sort = { key: "name", direction: "ascending" };
    assert.equal(nextSort(sort, "actions", columns), sort);
  });

  test("aria-sort names the direction on the sorted column only", () => {
    const sort = { key: "score", direction: "descending" };
    assert.equal(ariaSort(sort, "score"), "descending");
    assert.equal(ariaSort(sort, "name"), "none");
    assert.equal(ariaSort(null, "name"), "none");
  });
});

describe("the annotator table", () => {
  /* Rows as annotators/ answers them, each field different so every column orders them. */
  const row = (i, extra = {}) => ({
    annotator: i, username: `user${i}`, member: 10 + i, role: ["annotator", "reviewer", "manager"][i % 3],
    labels: 5 * i, gold_labels: i, gold_accuracy: i / 10, agreement: 1 - i / 10, median_seconds: 3 * i,
    speed_ratio: i / 4, position_bias: { first_wins: 0.4 + i / 20, n: 10 * i, p_value: 0.5 / i },
    tie_rate: i / 30, straight_lining: { longest_run: i + 1, modal_share: i / 7 }, skips: 2 * i,
    skip_rate: i / 50, trust: 0.9 - i / 10, flags: Array(i % 3).fill("too_fast"), reason: `reason ${i}`,
    status: i % 2 ? "paused" : "active", paused_reason: "", paused_at: null, paused_by: null, ...extra,
  });
  const sample = [row(3), row(1), row(4), row(2)];

  test("every field of the API's rows has a column", () => {
    const keys = ANNOTATOR_FIELDS.map((f) => f.key);
    for (const key of ["username", "role", "status", "labels", "gold_labels", "gold_accuracy", "agreement",
      "median_seconds", "speed_ratio", "tie_rate", "skips", "skip_rate", "trust", "flags", "reason"]) {
      assert.ok(keys.includes(key), key);
    }
    // The nested ones have a column per figure.
    for (const key of ["first_wins", "bias_p", "longest_run", "modal_share"]) assert.ok(keys.includes(key), key);
  });

  test("every column sorts the rows by its own figure, both ways", () => {
    for (const field of ANNOTATOR_FIELDS) {
      for (const direction of ["ascending", "descending"]) {
        const sorted = sortRows(sample, ANNOTATOR_FIELDS, { key: field.key, direction }).map(field.value);
        for (let i = 1; i < sorted.length; i += 1) {
          const step = compareValues(sorted[i - 1], sorted[i]);
          assert.ok(direction === "ascending" ? step <= 0 : step >= 0, `${field.key} ${direction}: ${JSON.stringify(sorted)}`);
        }
      }
    }
  });

  test("an annotator without gold labels sorts after those with some", () => {
    const rowsWithGap = [row(1), row(2, { gold_accuracy: null }), row(3)];
    for (const direction of ["ascending", "descending"]) {
      const sorted = sortRows(rowsWithGap, ANNOTATOR_FIELDS, { key: "gold_accuracy", direction });
      assert.equal(sorted.at(-1).username, "user2");
    }
  });
});
