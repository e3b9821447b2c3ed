import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Ranking, strengthApplies, submission } from "../../annotation/static/annotation/js/ranking.js";

const [A, B, C, D] = [11, 22, 33, 44];

function ranked(ids, ...picks) {
  const ranking = new Ranking(ids);
  for (const [id, tie] of picks) ranking.pick(id, { tie });
  return ranking;
}

/* Each response at most once, no empty tiers; once complete, each exactly once. */
function assertWellFormed(ranking, ids) {
  const seen = ranking.tiers.flat();
  assert.equal(new Set(seen).size, seen.length, `duplicate in ${JSON.stringify(ranking.tiers)}`);
  assert.ok(seen.every((id) => ids.includes(id)));
  assert.ok(ranking.tiers.every((tier) => tier.length > 0));
  if (ranking.complete) assert.deepEqual([...seen].sort(), [...ids].sort());
}

describe("picking responses in order", () => {
  test("starts empty with everything left to place", () => {
    const ranking = new Ranking([A, B, C]);
    assert.deepEqual(ranking.tiers, []);
    assert.equal(ranking.size, 3);
    assert.equal(ranking.left, 3);
    assert.equal(ranking.complete, false);
    assert.equal(ranking.canUndo, false);
    assert.equal(ranking.canTie, false);
  });

  test("each pick takes the next place", () => {
    const ranking = ranked([A, B, C], [B], [C], [A]);
    assert.deepEqual(ranking.tiers, [[B], [C], [A]]);
    assert.equal(ranking.complete, true);
    assert.equal(ranking.hasTie, false);
    assert.equal(ranking.left, 0);
  });

  test("a tied pick joins the previous place", () => {
    const ranking = ranked([A, B, C], [B], [C, true], [A]);
    assert.deepEqual(ranking.tiers, [[B, C], [A]]);
    assert.equal(ranking.hasTie, true);
  });

  test("a tie with nothing ranked yet is simply the first place", () => {
    const ranking = ranked([A, B], [A, true]);
    assert.deepEqual(ranking.tiers, [[A]]);
  });

  test("a response already ranked stays where it is", () => {
    const ranking = ranked([A, B, C], [A], [B]);
    assert.equal(ranking.pick(A), false);
    assert.equal(ranking.pick(A, { tie: true }), false);
    assert.deepEqual(ranking.tiers, [[A], [B]]);
    assert.equal(ranking.history.length, 2, "a refused pick is nothing to undo");
  });

  test("ids that are not the task's responses are ignored", () => {
    const ranking = new Ranking([A, B]);
    assert.equal(ranking.pick(D), false);
    assert.equal(ranking.unrank(D), false);
    assert.deepEqual(ranking.tiers, []);
  });

  test("a tie is possible only with a place to join and something left", () => {
    const ranking = ranked([A, B], [A]);
    assert.equal(ranking.canTie, true);
    ranking.pick(B);
    assert.equal(ranking.canTie, false);
  });
});

describe("moving responses (drag and drop)", () => {
  test("placeAt counts gaps among the tiers as they are shown", () => {
    const ranking = ranked([A, B, C], [A], [B], [C]);
    // A dropped into the gap between B and C: its old tier empties and disappears.
    assert.equal(ranking.placeAt(A, 2), true);
    assert.deepEqual(ranking.tiers, [[B], [A], [C]]);
  });

  test("placeAt takes a response out of a tie into a tier of its own", () => {
    const ranking = ranked([A, B, C], [A], [B, true], [C]);
    ranking.placeAt(B, 0);
    assert.deepEqual(ranking.tiers, [[B], [A], [C]]);
  });

  test("placeAt can put an unranked response above the others", () => {
    const ranking = ranked([A, B, C], [A], [B]);
    ranking.placeAt(C, 0);
    assert.deepEqual(ranking.tiers, [[C], [A], [B]]);
  });

  test("dropping a lone response next to its own tier changes nothing", () => {
    const ranking = ranked([A, B], [A], [B]);
    assert.equal(ranking.placeAt(A, 0), false);
    assert.equal(ranking.placeAt(A, 1), false);
    assert.deepEqual(ranking.tiers, [[A], [B]]);
    assert.equal(ranking.history.length, 2);
  });

  test("a place outside the tray is no change", () => {
    const ranking = ranked([A, B], [A]);
    for (const index of [-1, 2, 1.5, Number.NaN]) assert.equal(ranking.placeAt(B, index), false);
    assert.deepEqual(ranking.tiers, [[A]]);
  });

  test("joinTier moves a response into another tier, leaving no empty tier behind", () => {
    const ranking = ranked([A, B, C], [A], [B], [C]);
    assert.equal(ranking.joinTier(C, 0), true);
    assert.deepEqual(ranking.tiers, [[A, C], [B]]);
    assert.equal(ranking.joinTier(C, 0), false, "joining the tier it is in");
    assert.equal(ranking.joinTier(B, 5), false);
  });

  test("unrank takes a response out; its place closes up", () => {
    const ranking = ranked([A, B, C], [A], [B], [C]);
    assert.equal(ranking.unrank(B), true);
    assert.deepEqual(ranking.tiers, [[A], [C]]);
    assert.equal(ranking.unrank(B), false, "already out");
    assert.equal(ranking.complete, false);
  });
});

describe("undo", () => {
  test("steps back through every change, one at a time", () => {
    const ranking = new Ranking([A, B, C]);
    const states = [[]];
    ranking.pick(A); states.push(ranking.tiers);
    ranking.pick(B, { tie: true }); states.push(ranking.tiers);
    ranking.placeAt(B, 1); states.push(ranking.tiers);
    ranking.unrank(A); states.push(ranking.tiers);
    assert.deepEqual(ranking.tiers, [[B]]);
    for (let i = states.length - 2; i >= 0; i -= 1) {
      assert.equal(ranking.undo(), true);
      assert.deepEqual(ranking.tiers, states[i]);
    }
    assert.equal(ranking.undo(), false);
    assert.equal(ranking.canUndo, false);
  });

  test("earlier states are not changed by later moves", () => {
    const ranking = ranked([A, B], [A]);
    ranking.pick(B, { tie: true });
    ranking.undo();
    assert.deepEqual(ranking.tiers, [[A]]);
  });
});

test("any sequence of moves keeps every response at most once", () => {
  const ids = [A, B, C, D];
  let seed = 7;
  const random = (n) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const ranking = new Ranking(ids);
  for (let step = 0; step < 2000; step += 1) {
    const id = ids[random(ids.length)];
    const index = random(ranking.tiers.length + 2) - 1;
    [
      () => ranking.pick(id, { tie: random(2) === 1 }),
      () => ranking.placeAt(id, index),
      () => ranking.joinTier(id, index),
      () => ranking.unrank(id),
      () => ranking.undo(),
    ][random(5)]();
    assertWellFormed(ranking, ids);
  }
});

test("a snapshot restores the ranking and its undo history, as a copy", () => {
  const ranking = ranked([A, B, C], [C], [A, true]);
  const snapshot = ranking.snapshot();
  const restored = new Ranking([A, B, C], snapshot);
  snapshot.tiers[0].push(B);
  ranking.pick(B);
  assert.deepEqual(restored.tiers, [[C, A]]);
  restored.undo();
  assert.deepEqual(restored.tiers, [[C]]);
});

describe("the submit payload", () => {
  test("is the tiers of response ids, best first, with the time taken", () => {
    const ranking = ranked([A, B, C], [B], [C, true], [A]);
    assert.deepEqual(submission(ranking, { durationMs: 1234 }), {
      ranking: [[B, C], [A]], duration_ms: 1234,
    });
  });

  test("names each response exactly once", () => {
    const ranking = ranked([A, B, C, D], [D], [B], [A, true], [C]);
    const ids = submission(ranking, { durationMs: 1 }).ranking.flat();
    assert.deepEqual([...ids].sort(), [A, B, C, D].sort());
  });

  test("is refused while responses are left", () => {
    const ranking = ranked([A, B, C], [A]);
    assert.throws(() => submission(ranking, { durationMs: 1 }), /2 responses are not ranked/);
  });

  test("is a copy of the ranking at the time", () => {
    const ranking = ranked([A, B], [A], [B]);
    const body = submission(ranking, { durationMs: 1 });
    ranking.unrank(A);
    assert.deepEqual(body.ranking, [[A], [B]]);
  });

  test("carries flags and a trimmed rationale only when given", () => {
    const ranking = ranked([A, B, C], [A], [B], [C]);
    const body = submission(ranking, { durationMs: 5, flags: ["unsure"], rationale: "  too terse \n" });
    assert.deepEqual(body.flags, ["unsure"]);
    assert.equal(body.rationale, "too terse");
    const bare = submission(ranking, { durationMs: 5, flags: [], rationale: "   " });
    assert.equal("flags" in bare, false);
    assert.equal("rationale" in bare, false);
  });

  test("carries the strength for an untied pair only", () => {
    const pair = ranked([A, B], [B], [A]);
    assert.equal(strengthApplies(pair), true);
    assert.equal(submission(pair, { durationMs: 1, strength: 3 }).strength, 3);
    assert.equal("strength" in submission(pair, { durationMs: 1, strength: null }), false);

    const tied = ranked([A, B], [B], [A, true]);
    assert.equal(strengthApplies(tied), false);
    assert.equal("strength" in submission(tied, { durationMs: 1, strength: 2 }), false);

    const three = ranked([A, B, C], [A], [B], [C]);
    assert.equal(strengthApplies(three), false);
    assert.equal("strength" in submission(three, { durationMs: 1, strength: 2 }), false);
  });
});
