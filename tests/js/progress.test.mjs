import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { flagLine, labelSummary, rankingLine } from "../../annotation/static/annotation/js/history_text.js";
import { serverProgressText, serverProgressTitle } from "../../annotation/static/annotation/js/progress.js";
import { Ranking, submission } from "../../annotation/static/annotation/js/ranking.js";
import { reviseIdFrom, revisionResume } from "../../annotation/static/annotation/js/revise.js";

const progress = { done: 12, needed: 40, items_complete: 3, items_total: 20, overlap: 2,
  submitted_by_you: 5, left_for_you: 1 };

describe("server progress", () => {
  test("says x of y labels and the caller's own count", () => {
    assert.equal(serverProgressText(progress), "Project: 12 of 40 labels · your labels: 5");
    assert.equal(serverProgressText({ done: 0, needed: 1, submitted_by_you: 0 }), "Project: 0 of 1 label · your labels: 0");
  });

  test("the title says what the numbers count", () => {
    assert.equal(serverProgressTitle(progress),
      "Labels the project has of the 40 it needs (20 items × 2 labels each); 3 items complete; 1 item left for you.");
  });
});

describe("flags per response in the submit body", () => {
  const ranking = new Ranking([7, 8], { tiers: [[8], [7]] });

  test("without response flags, flags stay a list", () => {
    assert.deepEqual(submission(ranking, { durationMs: 1, flags: ["unsure"] }).flags, ["unsure"]);
    assert.equal(submission(ranking, { durationMs: 1, responseFlags: { 7: [] } }).flags, undefined);
  });

  test("with response flags, flags become an object with the task's under task", () => {
    const body = submission(ranking, { durationMs: 1, flags: ["unsure"], responseFlags: { 8: ["harmful"], 7: [] } });
    assert.deepEqual(body.flags, { task: ["unsure"], 8: ["harmful"] });
  });
});

describe("revising", () => {
  test("the label id comes from ?revise= and nothing else", () => {
    assert.equal(reviseIdFrom("?revise=42"), "42");
    for (const search of ["", "?revise=", "?revise=0", "?revise=4x", "?revise=-1", "?other=3"]) {
      assert.equal(reviseIdFrom(search), null, search);
    }
  });

  test("the earlier answer is put back as work in hand", () => {
    const resume = revisionResume({
      id: 3, ranking: [[9], [5]], strength: 2, why: "clearer", flags: ["other"],
      response_flags: { 9: ["refusal"] }, item: { id: 11, responses: [{ id: 9 }, { id: 5 }] },
    });
    assert.deepEqual(resume, {
      itemId: 11, responseIds: [5, 9], ranking: { tiers: [[9], [5]], history: [] },
      strength: 2, rationale: "clearer", flags: ["other"], responseFlags: { 9: ["refusal"] },
    });
  });
});

describe("the history's words", () => {
  const label = { display_order: [5, 9, 4], ranking: [[9], [5, 4]], flags: ["unsure"],
    response_flags: { 4: ["harmful", "factually_wrong"], 9: ["refusal"] } };

  test("rankings use the numbers the annotator saw", () => {
    assert.equal(rankingLine(label), "Response 2 › Response 1 = Response 3");
  });

  test("flags name the task's and each response's", () => {
    assert.equal(flagLine(label), "unsure; response 2: refusal; response 3: harmful, factually wrong");
    assert.equal(flagLine({ flags: [], response_flags: {} }), "");
  });

  test("the summary counts labels", () => {
    assert.equal(labelSummary({ count: 0 }), "You have not sent any labels in this project yet.");
    assert.equal(labelSummary({ count: 1 }), "1 label sent, changed ones included.");
  });
});
