import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  BIAS_P, biasRows, completion, fixed, goldRows, headline, hourlyColumns, interval, kappaMatrix,
  pValue, percent, reasonLabel, seconds, weeklyDomain, weeklySeries,
} from "../../annotation/static/annotation/js/figures.js";

describe("number formats", () => {
  test("missing figures show a dash, present ones their digits", () => {
    assert.equal(fixed(0.4567), "0.46");
    assert.equal(fixed(-0.1, 3), "-0.100");
    assert.equal(fixed(null), "–");
    assert.equal(fixed(NaN), "–");
    assert.equal(percent(0.456), "46%");
    assert.equal(percent(undefined), "–");
  });

  test("intervals need both ends", () => {
    assert.equal(interval([0.31, 0.52]), "0.31 to 0.52");
    assert.equal(interval([0.5, 0.75], percent), "50% to 75%");
    assert.equal(interval(null), "");
    assert.equal(interval([null, 0.5]), "");
  });

  test("seconds and p-values", () => {
    assert.equal(seconds(4.25), "4.3 s");
    assert.equal(seconds(42.4), "42 s");
    assert.equal(seconds(90), "1.5 min");
    assert.equal(pValue(0.0004), "< 0.001");
    assert.equal(pValue(0.0042), "0.004");
    assert.equal(pValue(0.2), "0.20");
  });

  test("review reasons read as words", () => {
    assert.equal(reasonLabel("gold_disagreement"), "Disagrees with gold");
    assert.equal(reasonLabel("something_new"), "Something new");
  });
});

describe("the agreement answer", () => {
  const agreement = {
    percent_agreement: 0.8, krippendorff_alpha: { nominal: 0.61, ordinal: 0.7 }, fleiss_kappa: 0.6,
    ci: { confidence: 0.95, samples: 500, percent_agreement: [0.7, 0.9], alpha_nominal: [0.5, 0.72],
      alpha_ordinal: null, fleiss_kappa: [0.49, 0.7] },
    kendall_w: 0.83, kendall_w_items: 7,
    weekly: [
      { week: "2026-W47", krippendorff_alpha: { nominal: 0.4, ordinal: 0.5 }, percent_agreement: 0.7,
        ci: { alpha_nominal: [-0.3, 0.8] } },
      { week: "2026-W48", krippendorff_alpha: { nominal: null, ordinal: null }, percent_agreement: null, ci: { alpha_nominal: null } },
      { week: "2026-W49", krippendorff_alpha: { nominal: 0.7, ordinal: 0.8 }, percent_agreement: 0.9,
        ci: { alpha_nominal: [0.6, 0.8] } },
    ],
  };

  test("the headline tiles carry each figure with its interval", () => {
    const tiles = Object.fromEntries(headline(agreement).map((t) => [t.key, t]));
    assert.deepEqual(Object.keys(tiles), ["alpha_nominal", "alpha_ordinal", "fleiss_kappa", "percent_agreement", "kendall_w"]);
    assert.equal(tiles.alpha_nominal.value, "0.61");
    assert.equal(tiles.alpha_nominal.ci, "95% CI 0.50 to 0.72");
    assert.equal(tiles.alpha_ordinal.ci, "");
    assert.equal(tiles.percent_agreement.value, "80%");
    assert.equal(tiles.percent_agreement.ci, "95% CI 70% to 90%");
    assert.equal(tiles.kendall_w.ci, "over 7 items ranked by all");
  });

  test("an empty project gives dashes, not errors", () => {
    const tiles = headline({ krippendorff_alpha: {}, ci: {} });
    assert.ok(tiles.every((t) => t.value === "–"));
  });

  test("the weekly series line up with the weeks, a gap where a week has no figure", () => {
    const { labels, series } = weeklySeries(agreement.weekly);
    assert.deepEqual(labels, ["2026-W47", "2026-W48", "2026-W49"]);
    assert.deepEqual(series[0].values, [0.4, null, 0.7]);
    assert.deepEqual(series[0].band, [[-0.3, 0.8], null, [0.6, 0.8]]);
    assert.deepEqual(series[1].values, [0.7, null, 0.9]);
  });

  test("the weekly axis reaches below zero only when some α or its band does", () => {
    assert.deepEqual(weeklyDomain(weeklySeries(agreement.weekly)), [-0.4, 1]);
    assert.deepEqual(weeklyDomain(weeklySeries(agreement.weekly.slice(2))), [0, 1]);
  });

  test("the κ matrix is symmetric, ordered by annotator id, blank on the diagonal", () => {
    const pairs = [
      { a: 7, b: 3, a_username: "gia", b_username: "abe", kappa: 0.5, n: 40 },
      { a: 3, b: 9, a_username: "abe", b_username: "zed", kappa: null, n: 4 },
    ];
    const m = kappaMatrix(pairs, { minUnits: 20 });
    assert.deepEqual(m.ids, [3, 7, 9]);
    assert.deepEqual(m.labels, ["abe", "gia", "zed"]);
    assert.equal(m.cell(0, 0), null);
    assert.equal(m.cell(0, 1).value, 0.5);
    assert.equal(m.cell(1, 0).value, 0.5);
    assert.match(m.cell(1, 0).title, /gia and abe: κ = 0\.50 over 40 pair votes/);
    assert.equal(m.cell(0, 2).value, null);
    assert.match(m.cell(2, 0).title, /over 4 pair votes \(fewer than 20\)/);
    assert.match(m.cell(1, 2).title, /no items in common/);
  });
});

describe("the annotators answer", () => {
  const rows = [
    { username: "ann", position_bias: { first_wins: 0.8, n: 50, p_value: 0.0001 }, gold_accuracy: 0.9, gold_labels: 10, flags: [] },
    { username: "bob", position_bias: { first_wins: 0.6, n: 50, p_value: BIAS_P }, gold_accuracy: 0.2, gold_labels: 5, flags: ["low_gold_accuracy"] },
    { username: "cat", position_bias: { first_wins: null, n: 0, p_value: null }, gold_accuracy: null, gold_labels: 0, flags: [] },
  ];

  test("position bias is highlighted below p = 0.01 only", () => {
    const bias = biasRows(rows);
    assert.deepEqual(bias.map((b) => b.highlight), [true, false, false]);
    assert.deepEqual(bias.map((b) => b.value), [0.8, 0.6, null]);
    assert.match(bias[0].title, /won 80% of 50 pairs, p = < 0\.001 \(position bias\)/);
  });

  test("gold accuracy per annotator, the low ones marked", () => {
    const gold = goldRows(rows);
    assert.deepEqual(gold.map((g) => g.value), [0.9, 0.2, null]);
    assert.deepEqual(gold.map((g) => g.highlight), [false, true, false]);
    assert.match(gold[2].title, /on 0 gold labels/);
  });
});

describe("the progress answer", () => {
  test("completion is a share of the items, none for an empty project", () => {
    assert.deepEqual(completion({ n_items: 10, n_done: 4 }), { done: 4, total: 10, share: 0.4 });
    assert.deepEqual(completion({ n_items: 0, n_done: 0 }), { done: 0, total: 0, share: 0 });
  });

  test("hourly columns are labelled every few hours, counting back from the latest", () => {
    const perHour = Array.from({ length: 24 }, (_, i) => ({ hour: new Date(Date.UTC(2026, 0, 1, i)).toISOString(), labels: i }));
    const columns = hourlyColumns(perHour, { every: 6 });
    assert.equal(columns.length, 24);
    assert.deepEqual(columns.map((c, i) => (c.tick ? i : null)).filter((i) => i !== null), [5, 11, 17, 23]);
    assert.deepEqual(columns.map((c) => c.value), perHour.map((h) => h.labels));
    assert.match(columns[1].title, /^1 label in the hour from/);
  });
});
