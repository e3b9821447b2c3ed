import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  decisionBody, decisionMessage, goldChoices, labelAuthor, numbered, sameRanking, snippet, tierRows,
} from "../../annotation/static/annotation/js/reviewing.js";

const responses = numbered([
  { id: 31, position: 2, text: "third" },
  { id: 12, position: 0, text: "first   answer\nwith lines" },
  { id: 20, position: 1, text: "" },
]);

describe("responses as the page numbers them", () => {
  test("in import order, from 1", () => {
    assert.deepEqual(responses.map((r) => [r.id, r.num]), [[12, 1], [20, 2], [31, 3]]);
  });

  test("snippets are one line, cut with an ellipsis", () => {
    assert.equal(snippet("first   answer\nwith lines"), "first answer with lines");
    assert.equal(snippet("abcdefghij", 6), "abcde…");
    assert.equal(snippet("   "), "(empty)");
  });
});

describe("rankings as tiers", () => {
  test("rows by place, ties marked, members told by their numbers", () => {
    const rows = tierRows([[31, 12], [20]], responses);
    assert.deepEqual(rows.map((r) => [r.label, r.tie, r.members.map((m) => m.num)]), [["1st", true, [3, 1]], ["2nd", false, [2]]]);
    assert.equal(rows[0].members[1].snippet, "first answer with lines");
  });

  test("a response the item no longer has still gets a row", () => {
    const [row] = tierRows([[99]], responses);
    assert.equal(row.members[0].num, null);
  });

  test("the order inside a tie does not make another ranking", () => {
    assert.ok(sameRanking([[1, 2], [3]], [[2, 1], [3]]));
    assert.ok(!sameRanking([[1], [2], [3]], [[1, 2], [3]]));
    assert.ok(!sameRanking([[1], [2]], [[2], [1]]));
    assert.ok(!sameRanking(null, [[1]]));
  });
});

describe("decision bodies", () => {
  test("accept and exclude name a label; rank and gold carry a ranking", () => {
    assert.deepEqual(decisionBody("accept", { annotation: 5 }), { decision: "accept", annotation: 5 });
    assert.deepEqual(decisionBody("exclude", { annotation: 5, note: "  spam " }), { decision: "exclude", annotation: 5, note: "spam" });
    assert.deepEqual(decisionBody("rank", { ranking: [[1], [2, 3]] }), { decision: "rank", ranking: [[1], [2, 3]] });
    assert.deepEqual(decisionBody("gold", { ranking: [[2], [1]], note: "" }), { decision: "gold", ranking: [[2], [1]] });
  });

  test("a decision missing what it needs is refused before it is sent", () => {
    assert.throws(() => decisionBody("accept", {}), /needs the label/);
    assert.throws(() => decisionBody("rank", { ranking: [] }), /needs a ranking/);
    assert.throws(() => decisionBody("approve", { annotation: 1 }), /Unknown decision/);
  });

  test("the ranking sent is a copy", () => {
    const ranking = [[1], [2]];
    const body = decisionBody("rank", { ranking });
    ranking[0].push(3);
    assert.deepEqual(body.ranking, [[1], [2]]);
  });
});

describe("promoting to gold", () => {
  const item = {
    consensus: { method: "majority", ranking: [[12], [20], [31]] },
    labels: [
      { id: 1, username: "ann", ranking: [[12], [20], [31]], excluded: false },
      { id: 2, username: "bob", ranking: [[31], [12, 20]], excluded: false },
      { id: 3, username: "cat", ranking: [[20], [31], [12]], excluded: true },
      { id: 4, username: null, source: "imported", ranking: [[20], [12], [31]], excluded: false },
    ],
  };

  test("each distinct ranking once, excluded labels left out, mine first", () => {
    const choices = goldChoices(item, [[31], [20], [12]]);
    assert.deepEqual(choices.map((c) => c.value), ["mine", "consensus", "label-2", "label-4"]);
    assert.equal(choices[1].label, "Consensus (Majority), ann's ranking");
    assert.equal(choices[3].label, "imported label's ranking");
  });

  test("without a consensus or my ranking, the labels", () => {
    const choices = goldChoices({ consensus: null, labels: item.labels.slice(0, 2) });
    assert.deepEqual(choices.map((c) => c.value), ["label-1", "label-2"]);
  });
});

describe("what the page says", () => {
  test("who a label is by", () => {
    assert.equal(labelAuthor({ username: "ann", source: "human" }), "ann");
    assert.equal(labelAuthor({ username: null, source: "ai" }), "ai label");
  });

  test("after each decision", () => {
    const labels = [{ id: 7, username: "ann" }];
    assert.equal(decisionMessage({ decision: "accept", annotation: 7 }, { itemId: 3, labels }),
      "Item 3: accepted ann's ranking as the consensus.");
    assert.match(decisionMessage({ decision: "exclude", annotation: 8 }, { itemId: 3, labels }), /excluded label 8's/);
    assert.match(decisionMessage({ decision: "rank" }, { itemId: 3 }), /your ranking/);
    assert.match(decisionMessage({ decision: "gold" }, { itemId: 3 }), /gold item/);
  });
});
