import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { practiceVerdict, scoreRows, scoreScale } from "../../annotation/static/annotation/js/feedback.js";

describe("scoreScale", () => {
  test("maps the lowest score to a sliver and the highest to the full width", () => {
    const width = scoreScale([-1, 0.5, 3]);
    assert.equal(width(-1), "8.0%");
    assert.equal(width(3), "100.0%");
    assert.equal(width(1), "54.0%");
  });

  test("equal scores all get the sliver", () => {
    const width = scoreScale([0.2, 0.2]);
    assert.equal(width(0.2), "8.0%");
  });

  test("ignores what is not a number", () => {
    const width = scoreScale([null, "x", 0, "2", Number.NaN]);
    assert.equal(width(0), "8.0%");
    assert.equal(width(2), "100.0%");
  });
});

describe("scoreRows", () => {
  const responses = [{ id: 10, num: 1 }, { id: 20, num: 2 }, { id: 30, num: 3 }];
  const scores = [
    { id: 10, before: 0.3, after: -0.2 },
    { id: 20, before: 0.1, after: 0.6 },
    { id: 30, before: -0.4, after: -0.404 },
  ];

  test("one row per response in the annotator's order; the first tier is their best", () => {
    const rows = scoreRows(responses, [[20, 30], [10]], scores);
    assert.deepEqual(rows.map((r) => [r.num, r.top]), [[2, true], [3, true], [1, false]]);
  });

  test("says which way each score moved, ignoring changes below 0.005", () => {
    const rows = scoreRows(responses, [[20], [30], [10]], scores);
    assert.deepEqual(rows.map((r) => [r.trend, r.arrow]), [["up", "▲"], ["", "■"], ["down", "▼"]]);
  });

  test("labels each row for screen readers", () => {
    const [first, second] = scoreRows(responses, [[20], [10, 30]], scores);
    assert.equal(first.label, "Response 2, your 1st: score 0.10 before, 0.60 after");
    assert.equal(second.label, "Response 1, your 2nd: score 0.30 before, -0.20 after");
  });

  test("bars share one scale across before and after", () => {
    const [row] = scoreRows(responses, [[20]], scores);
    assert.equal(row.afterWidth, "100.0%");
    assert.equal(scoreRows(responses, [[30]], scores)[0].afterWidth, "8.0%");
  });

  test("leaves out responses the model has no score for", () => {
    const rows = scoreRows(responses, [[10], [20], [30]], [scores[1]]);
    assert.deepEqual(rows.map((r) => r.num), [2]);
    assert.deepEqual(scoreRows(responses, [[10]], []), []);
  });
});

describe("practiceVerdict", () => {
  const practice = { correct: false, gold_ranking: [[2], [1]], required: 5, answered: 3,
    answered_correctly: 2, min_accuracy: 0.8, qualified: false };

  test("nothing to say about real tasks or practice without an answer", () => {
    assert.equal(practiceVerdict(false, { practice }), null);
    assert.equal(practiceVerdict(true, {}), null);
    assert.equal(practiceVerdict(true, { practice: { correct: true } }), null);
  });

  test("a wrong answer shows the expected ranking and the way to qualifying", () => {
    assert.deepEqual(practiceVerdict(true, { practice }), {
      correct: false, expected: [[2], [1]],
      progress: "Practice: 2 of 3 right so far; you need 80% of your last 5.",
    });
  });

  test("qualifying opens the real tasks", () => {
    const verdict = practiceVerdict(true, { practice: { ...practice, correct: true, qualified: true } });
    assert.equal(verdict.correct, true);
    assert.equal(verdict.progress, "Practice passed: real tasks are open to you now.");
  });

  test("falls back to the result's own correct_ranking and correct", () => {
    assert.deepEqual(practiceVerdict(true, { correct_ranking: [[1], [2]], correct: true }),
      { correct: true, expected: [[1], [2]], progress: null });
    assert.equal(practiceVerdict(true, { practice: { gold_ranking: [[1]], correct: false }, correct: true }).correct,
      false, "the practice block wins");
  });
});
