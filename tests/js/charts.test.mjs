import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  bandLayout, barChart, columnChart, contrast, divergingColor, edgeAnchor, extent, fit, heatmap, inkOn,
  interpolate, lineChart, linearScale, luminance, niceDomain, node, textOf, tickStep, ticks,
  toSvg, walk,
} from "../../annotation/static/annotation/js/charts.js";

const all = (tree, predicate) => [...walk(tree)].filter(predicate);
const byClass = (tree, name) => all(tree, (n) => String(n.attrs.class || "").split(" ").includes(name));
const numbersIn = (d) => (d.match(/-?\d+(\.\d+)?/g) || []).map(Number);

describe("scales", () => {
  test("a linear scale maps the domain's ends onto the range's, and in between linearly", () => {
    const y = linearScale([0, 1], [200, 0]);
    assert.equal(y(0), 200);
    assert.equal(y(1), 0);
    assert.equal(y(0.25), 150);
    assert.equal(linearScale([-1, 1], [0, 100])(0), 50);
  });

  test("a domain of one value maps to the middle of the range", () => {
    assert.equal(linearScale([3, 3], [0, 10])(3), 5);
  });

  test("extent skips what is not a finite number", () => {
    assert.deepEqual(extent([0.4, null, -0.2, NaN, undefined, 0.9]), [-0.2, 0.9]);
    assert.equal(extent([null, undefined]), null);
  });

  // Expected values are what d3-array's ticks() and d3-scale's nice() give for the same input.
  test("ticks match d3.ticks", () => {
    assert.deepEqual(ticks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(ticks(-0.13, 0.87, 5), [0, 0.2, 0.4, 0.6, 0.8]);
    assert.deepEqual(ticks(0, 10, 5), [0, 2, 4, 6, 8, 10]);
    assert.deepEqual(ticks(1, 9, 3), [2, 4, 6, 8]);
    assert.deepEqual(ticks(0, 100, 4), [0, 20, 40, 60, 80, 100]);
    assert.deepEqual(ticks(1, 26, 5), [5, 10, 15, 20, 25]);
    assert.deepEqual(ticks(-1, 1, 4), [-1, -0.5, 0, 0.5, 1]);
  });

  test("tick steps are 1, 2 or 5 times a power of ten", () => {
    for (let k = 0; k < 200; k += 1) {
      const lo = Math.sin(k) * 10 ** ((k % 7) - 3);
      const hi = lo + Math.abs(Math.cos(k)) * 10 ** ((k % 5) - 2) + 1e-6;
      const step = tickStep(lo, hi, 5);
      const mantissa = step / 10 ** Math.floor(Math.log10(step));
      assert.ok([1, 2, 5, 10].some((m) => Math.abs(mantissa - m) < 1e-9), `${lo}..${hi}: ${step}`);
      const found = ticks(lo, hi, 5);
      assert.ok(found.every((t) => t >= lo - 1e-9 && t <= hi + 1e-9), `${lo}..${hi}: ${found}`);
      assert.ok(found.length >= 2 && found.length <= 11, `${lo}..${hi}: ${found.length} ticks`);
    }
  });

  test("nice domains widen to the step, as d3's nice() does", () => {
    assert.deepEqual(niceDomain(0.13, 0.87, 5), [0, 1]);
    assert.deepEqual(niceDomain(-0.37, 0.92, 4), [-0.5, 1]);
    assert.deepEqual(niceDomain(0, 37, 3), [0, 40]);
    assert.deepEqual(niceDomain(2, 2), [1, 3]);
  });

  test("bands share the range and leave the padding empty", () => {
    const band = bandLayout(4, [0, 100], 0.2);
    assert.equal(band.slot, 25);
    assert.equal(band.width, 20);
    assert.equal(band.at(0), 2.5);
    assert.equal(band.at(3) + band.width, 97.5);
  });
});

describe("colours", () => {
  test("luminance and contrast follow WCAG 2", () => {
    assert.equal(luminance("#ffffff"), 1);
    assert.equal(luminance("#000000"), 0);
    assert.equal(contrast("#000000", "#ffffff"), 21);
    // The commonly quoted ratio of #777777 on white: 4.48:1, just short of AA.
    assert.equal(Math.round(contrast("#777777", "#ffffff") * 100) / 100, 4.48);
  });

  test("interpolation hits the stops and the midpoint between them", () => {
    assert.equal(interpolate(["#000000", "#ffffff"], 0), "#000000");
    assert.equal(interpolate(["#000000", "#ffffff"], 1), "#ffffff");
    assert.equal(interpolate(["#000000", "#ffffff"], 0.5), "#808080");
    assert.equal(interpolate(["#ff0000", "#00ff00", "#0000ff"], 0.5), "#00ff00");
    assert.equal(interpolate(["#000000", "#ffffff"], 7), "#ffffff");
  });

  test("the diverging scale is centred on the middle of its domain", () => {
    const stops = ["#ff0000", "#ffffff", "#0000ff"];
    assert.equal(divergingColor(0, [-1, 1], stops), "#ffffff");
    assert.equal(divergingColor(-1, [-1, 1], stops), "#ff0000");
    assert.equal(divergingColor(1, [-1, 1], stops), "#0000ff");
    assert.equal(divergingColor(null), divergingColor(undefined));
  });

  test("text on a cell is whichever of ink and white contrasts more", () => {
    for (let v = -1; v <= 1.0001; v += 0.1) {
      const fill = divergingColor(v);
      const ink = inkOn(fill);
      const other = ink === "#ffffff" ? "#1d2330" : "#ffffff";
      assert.ok(contrast(fill, ink) >= contrast(fill, other), `${v}: ${fill}`);
      assert.ok(contrast(fill, ink) >= 4.5, `${v}: ${fill} with ${ink} reads at ${contrast(fill, ink)}`);
    }
  });
});

describe("trees and elements", () => {
  /* Enough of a document for toSvg. */
  function fakeDocument() {
    const element = (ns, tag) => ({
      ns, tag, attrs: {}, children: [],
      setAttribute(k, v) { this.attrs[k] = v; },
      append(child) { this.children.push(child); },
    });
    return { createElementNS: element, createTextNode: (text) => ({ text }) };
  }

  test("text goes in as text nodes, never parsed", () => {
    const tree = node("svg", { width: 10 }, node("text", {}, "<script>alert(1)</script>"));
    const svg = toSvg(tree, fakeDocument());
    assert.equal(svg.ns, "http://www.w3.org/2000/svg");
    assert.equal(svg.attrs.width, "10");
    assert.deepEqual(svg.children[0].children[0], { text: "<script>alert(1)</script>" });
  });

  test("absent attributes and children are left out", () => {
    const tree = node("g", { a: null, b: false, c: 0 }, null, false, "x");
    const g = toSvg(tree, fakeDocument());
    assert.deepEqual(g.attrs, { c: "0" });
    assert.equal(g.children.length, 1);
  });

  test("labels too long for their room are cut with an ellipsis", () => {
    assert.equal(fit("short", 200), "short");
    const cut = fit("a-very-long-username-indeed", 60, 12);
    assert.ok(cut.endsWith("…") && cut.length < 27);
  });
});

describe("the line chart with a band", () => {
  const labels = ["W1", "W2", "W3", "W4"];
  const chart = lineChart({
    labels, width: 400, height: 200, yDomain: [0, 1],
    series: [{ name: "alpha", className: "alpha", values: [0.5, null, 0.7, 0.8],
      band: [[0.4, 0.6], null, [0.6, 0.8], [0.7, 0.9]] }],
  });

  test("a null breaks the line and the band into runs", () => {
    assert.equal(byClass(chart, "line").length, 2);
    assert.equal(byClass(chart, "band").length, 2);
    assert.equal(byClass(chart, "point").length, 3);
  });

  test("points sit at their value on the y axis and the band encloses them", () => {
    const points = byClass(chart, "point");
    const y = (v) => 12 + (1 - v) * (200 - 28 - 12);
    assert.deepEqual(points.map((p) => p.attrs["data-value"]), [0.5, 0.7, 0.8]);
    for (const p of points) assert.ok(Math.abs(p.attrs.cy - y(p.attrs["data-value"])) < 0.06);
    const [, second] = byClass(chart, "band");
    const ys = numbersIn(second.attrs.d).filter((_, i) => i % 2 === 1);
    assert.ok(Math.abs(Math.min(...ys) - y(0.9)) < 0.06 && Math.abs(Math.max(...ys) - y(0.6)) < 0.06);
    for (const p of points.slice(1)) assert.ok(p.attrs.cy >= Math.min(...ys) && p.attrs.cy <= Math.max(...ys));
  });

  test("points are spread across the width in order, each with a tooltip", () => {
    const xs = byClass(chart, "point").map((p) => p.attrs.cx);
    assert.deepEqual(xs, [...xs].sort((a, b) => a - b));
    assert.equal(xs[0], 44);
    assert.equal(xs[2], 400 - 16);
    assert.match(textOf(byClass(chart, "point")[1].children[0]), /alpha, W3: 0\.7 \(0\.6 to 0\.8\)/);
  });

  test("one week is drawn as a point in the middle", () => {
    const one = lineChart({ labels: ["W1"], series: [{ name: "a", values: [0.3] }], width: 300, yDomain: [0, 1] });
    const [point] = byClass(one, "point");
    assert.equal(point.attrs.cx, (44 + 300 - 16) / 2);
  });

  test("without a fixed domain the axis covers every value and band", () => {
    const free = lineChart({ labels, series: [{ name: "a", values: [-0.3, 0.2, 0.4, 0.1], band: [[-0.45, 0]] }] });
    const tickValues = byClass(free, "tick").map((t) => Number(textOf(t.children[1])));
    assert.ok(Math.min(...tickValues) <= -0.45 && Math.max(...tickValues) >= 0.4, String(tickValues));
  });
});

describe("the bar chart", () => {
  const chart = barChart({
    width: 300, reference: 0.5,
    rows: [{ label: "ann", value: 0.5 }, { label: "bob", value: 0.9, highlight: true }, { label: "cat", value: null }],
  });

  test("bar lengths are proportional to the values", () => {
    const bars = byClass(chart, "bar");
    assert.equal(bars.length, 2);
    const track = byClass(chart, "track")[0].attrs.width;
    assert.ok(Math.abs(bars[0].attrs.width - 0.5 * track) < 0.11);
    assert.ok(Math.abs(bars[1].attrs.width - 0.9 * track) < 0.11);
  });

  test("the reference line sits at its value, highlighted and missing rows are marked", () => {
    const line = byClass(chart, "reference")[0].children[0];
    const bars = byClass(chart, "bar");
    assert.equal(line.attrs.x1, bars[0].attrs.x + bars[0].attrs.width);
    const rows = byClass(chart, "bar-row");
    assert.deepEqual(rows.map((r) => r.attrs.class), ["bar-row", "bar-row highlight", "bar-row missing"]);
    assert.equal(textOf(byClass(rows[2], "bar-value")[0]), "n/a");
  });

  test("the chart grows with its rows", () => {
    const one = barChart({ rows: [{ label: "a", value: 1 }] });
    const five = barChart({ rows: Array.from({ length: 5 }, (_, i) => ({ label: `a${i}`, value: 1 })) });
    assert.equal(five.attrs.height - one.attrs.height, 4 * 26);
  });
});

describe("the column chart", () => {
  test("columns are as tall as their values on a nice axis", () => {
    const chart = columnChart({ height: 120, columns: [{ label: "1", value: 3 }, { label: "2", value: 6 }, { label: "3", value: 0 }] });
    const bars = byClass(chart, "bar");
    assert.equal(bars.length, 3);
    assert.ok(Math.abs(bars[1].attrs.height - 2 * bars[0].attrs.height) < 0.11);
    assert.equal(bars[2].attrs.height, 0);
  });
});

describe("labels at the edges", () => {
  test("a label that would cross an edge is anchored to it", () => {
    assert.equal(edgeAnchor(200, "01:00 AM", 400), "middle");
    assert.equal(edgeAnchor(395, "01:00 AM", 400), "end");
    assert.equal(edgeAnchor(5, "01:00 AM", 400), "start");
  });

  test("the last hour's label stays inside a narrow chart", () => {
    const columns = Array.from({ length: 24 }, (_, i) => ({ label: `${i}`, value: i }));
    const chart = columnChart({ columns, width: 300, tickLabel: (c, i) => (i === 23 ? "01:00 AM" : null) });
    const [label] = byClass(chart, "x-label");
    assert.equal(label.attrs["text-anchor"], "end");
  });
});

describe("the heatmap", () => {
  const labels = ["ann", "bob", "cat"];
  const values = { "0,1": 0.8, "1,0": 0.8, "0,2": -0.4, "2,0": -0.4, "1,2": null, "2,1": null };
  const chart = heatmap({
    labels, width: 300, format: (v) => v.toFixed(2),
    cell: (i, j) => (i === j ? null : { value: values[`${i},${j}`], title: `${labels[i]}/${labels[j]}` }),
  });

  test("one cell per pair, each showing its value with a tooltip", () => {
    const cells = byClass(chart, "cell");
    assert.equal(cells.length, 9);
    const cell01 = cells.find((c) => c.attrs["data-row"] === 0 && c.attrs["data-col"] === 1);
    assert.equal(cell01.attrs["data-value"], 0.8);
    assert.equal(textOf(cell01.children.find((c) => c.tag === "text")), "0.80");
    assert.equal(textOf(cell01.children.find((c) => c.tag === "title")), "ann/bob");
  });

  test("the diagonal is blank and a missing value shows a dash", () => {
    const cells = byClass(chart, "cell");
    const diagonal = cells.filter((c) => c.attrs["data-row"] === c.attrs["data-col"]);
    assert.ok(diagonal.every((c) => !c.children.some((x) => x.tag === "text")));
    const missing = cells.find((c) => c.attrs["data-row"] === 1 && c.attrs["data-col"] === 2);
    assert.equal(textOf(missing.children.find((c) => c.tag === "text")), "–");
  });

  test("colours follow the value: symmetric cells alike, negative apart from positive", () => {
    const fill = (i, j) => byClass(chart, "cell").find((c) => c.attrs["data-row"] === i && c.attrs["data-col"] === j)
      .children.find((c) => c.tag === "rect").attrs.fill;
    assert.equal(fill(0, 1), fill(1, 0));
    assert.notEqual(fill(0, 1), fill(0, 2));
    assert.equal(fill(0, 1), divergingColor(0.8));
  });
});
