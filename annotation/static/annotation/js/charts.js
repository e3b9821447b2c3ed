/* Small SVG charts without a library. Every chart is a pure function from data to a tree of
 * {tag, attrs, children} nodes (children are nodes or strings), so that scales and layout
 * are tested under node; `toSvg` turns a tree into elements, always putting text in as
 * text nodes, so that a username with markup in it is shown, not run.
 *
 * Charts are laid out in real pixels for the width they are given (the page passes its
 * container's width and redraws on resize), so that text stays legible on a phone instead
 * of being scaled down with a fixed viewBox. */

export const SVG_NS = "http://www.w3.org/2000/svg";

export function node(tag, attrs, ...children) {
  return { tag, attrs: attrs || {}, children: children.flat().filter((c) => c !== null && c !== undefined && c !== false) };
}

export function toSvg(tree, doc = globalThis.document) {
  if (typeof tree === "string" || typeof tree === "number") return doc.createTextNode(String(tree));
  const element = doc.createElementNS(SVG_NS, tree.tag);
  for (const [key, value] of Object.entries(tree.attrs)) {
    if (value !== null && value !== undefined && value !== false) element.setAttribute(key, String(value));
  }
  for (const child of tree.children) element.append(toSvg(child, doc));
  return element;
}

/* Every node of a tree, depth first (for tests and for callers that look things up). */
export function* walk(tree) {
  if (!tree || typeof tree !== "object") return;
  yield tree;
  for (const child of tree.children) yield* walk(child);
}

export function textOf(tree) {
  if (typeof tree === "string" || typeof tree === "number") return String(tree);
  return tree.children.map(textOf).join("");
}

// ---------------------------------------------------------------- scales

const isNumber = (v) => typeof v === "number" && Number.isFinite(v);

/* [min, max] of the finite numbers among `values`, or null when there are none. */
export function extent(values) {
  const found = values.filter(isNumber);
  return found.length ? [Math.min(...found), Math.max(...found)] : null;
}

/* Maps [d0, d1] onto [r0, r1]; a domain of one value maps to the middle of the range. */
export function linearScale([d0, d1], [r0, r1]) {
  const span = d1 - d0;
  const scale = (v) => (span === 0 ? (r0 + r1) / 2 : r0 + ((v - d0) / span) * (r1 - r0));
  scale.domain = [d0, d1];
  scale.range = [r0, r1];
  return scale;
}

/* A step of 1, 2 or 5 times a power of ten giving about `count` intervals over [lo, hi]
 * (Heckbert, "Nice numbers for graph labels", Graphics Gems 1990; the thresholds √50,
 * √10, √2 between candidate steps are d3-array's, so ticks match d3.ticks). */
export function tickStep(lo, hi, count = 5) {
  const raw = Math.abs(hi - lo) / Math.max(1, count);
  if (!(raw > 0) || !Number.isFinite(raw)) return 0;
  const power = 10 ** Math.floor(Math.log10(raw));
  const error = raw / power;
  const factor = error >= Math.sqrt(50) ? 10 : error >= Math.sqrt(10) ? 5 : error >= Math.sqrt(2) ? 2 : 1;
  return factor * power;
}

// Twelve significant digits hide binary rounding (0.6000000000000001) in tick values.
const tidy = (v) => Number(v.toPrecision(12)) || 0;

/* The multiples of the nice step inside [lo, hi], ascending. */
export function ticks(lo, hi, count = 5) {
  if (lo === hi) return [lo];
  const step = tickStep(lo, hi, count);
  if (!step) return [];
  const out = [];
  for (let i = Math.ceil(lo / step - 1e-9); i <= Math.floor(hi / step + 1e-9); i += 1) out.push(tidy(i * step));
  return out;
}

/* [lo, hi] widened to multiples of its nice step (d3's scale.nice()); a single value is
 * widened by one unit each way, so that it still has an axis around it. */
export function niceDomain(lo, hi, count = 5) {
  if (lo === hi) return niceDomain(lo - 1, hi + 1, count);
  let [a, b] = lo < hi ? [lo, hi] : [hi, lo];
  let previous = null;
  // Widening can change the step, so repeat until it settles (d3 stops after 10 tries too).
  for (let i = 0; i < 10; i += 1) {
    const step = tickStep(a, b, count);
    if (step === previous) break;
    previous = step;
    [a, b] = [tidy(Math.floor(a / step) * step), tidy(Math.ceil(b / step) * step)];
  }
  return [a, b];
}

/* Evenly spaced slots for `n` bars across [start, end]: each slot's start and the bar
 * width, a `padding` share of each slot left empty. */
export function bandLayout(n, [start, end], padding = 0.2) {
  if (n <= 0) return { slot: 0, width: 0, at: () => start };
  const slot = (end - start) / n;
  const width = slot * (1 - padding);
  return { slot, width, at: (i) => start + i * slot + (slot - width) / 2 };
}

// ---------------------------------------------------------------- colours

function parseHex(hex) {
  const h = hex.replace("#", "");
  return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
}

const toHex = (rgb) => `#${rgb.map((c) => Math.round(c).toString(16).padStart(2, "0")).join("")}`;

/* Linear interpolation in sRGB between the stops (colours at evenly spaced points). */
export function interpolate(stops, t) {
  const u = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(u));
  const [a, b] = [parseHex(stops[i]), parseHex(stops[i + 1])];
  return toHex(a.map((c, k) => c + (b[k] - c) * (u - i)));
}

/* Relative luminance (WCAG 2.x, from sRGB). */
export function luminance(hex) {
  const [r, g, b] = parseHex(hex).map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/* WCAG contrast ratio of two colours, 1 … 21. */
export function contrast(a, b) {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

export const INK = "#1d2330";
export const PAPER = "#ffffff";

/* Dark or white text, whichever reads better on `fill`. */
export function inkOn(fill) {
  return contrast(fill, INK) >= contrast(fill, PAPER) ? INK : PAPER;
}

// Red for disagreement beyond chance, near white for chance, blue for agreement. The ends
// are kept light enough (luminance about 0.3) that dark ink on any cell reads at 4.5:1 or
// better (WCAG AA), which no pair of inks can promise across a dark-to-light scale.
export const DIVERGING = ["#e57373", "#f4f5f7", "#748ffc"];
export const MISSING = "#e9ecef";

/* A value's colour on a diverging scale centred on the middle of `domain`. */
export function divergingColor(value, [lo, hi] = [-1, 1], stops = DIVERGING) {
  if (!isNumber(value)) return MISSING;
  return interpolate(stops, hi === lo ? 0.5 : (value - lo) / (hi - lo));
}

// ---------------------------------------------------------------- text fitting

const CHAR_WIDTH = 0.58;  // average advance of system-ui text, as a share of its size

export function textWidth(text, size = 12) {
  return String(text).length * size * CHAR_WIDTH;
}

/* `text` cut to fit `width` pixels, with an ellipsis when cut. */
export function fit(text, width, size = 12) {
  const s = String(text);
  const room = Math.floor(width / (size * CHAR_WIDTH));
  if (s.length <= room) return s;
  return room <= 1 ? "…" : `${s.slice(0, room - 1)}…`;
}

const px = (v) => Math.round(v * 10) / 10;

function title(text) {
  return text ? node("title", {}, text) : null;
}

function frame({ width, height, label, className }, ...children) {
  return node("svg", {
    class: `chart ${className}`, width: px(width), height: px(height),
    viewBox: `0 0 ${px(width)} ${px(height)}`, role: "img", "aria-label": label,
  }, title(label), ...children);
}

// ---------------------------------------------------------------- line chart with a band

/* Runs of consecutive indices where `ok(i)` holds. */
function runs(n, ok) {
  const out = [];
  let current = [];
  for (let i = 0; i < n; i += 1) {
    if (ok(i)) current.push(i);
    else if (current.length) {
      out.push(current);
      current = [];
    }
  }
  if (current.length) out.push(current);
  return out;
}

/* Lines over categories (weeks, say), each optionally with a band (a confidence interval).
 * `labels`: the x categories. `series`: [{name, className, values: [y|null], band?: [[lo,
 * hi]|null]}], aligned with labels; a null breaks the line. `yDomain` fixes the y axis
 * (else it is the nice extent of values and bands). `format(y)` writes values. */
export function lineChart({ labels, series, width = 640, height = 240, yDomain = null,
  format = (v) => String(v), label = "Line chart" }) {
  const margin = { top: 12, right: 16, bottom: 28, left: 44 };
  const inner = { left: margin.left, right: width - margin.right, top: margin.top, bottom: height - margin.bottom };
  const everything = series.flatMap((s) => [...s.values, ...(s.band || []).flat()]);
  const found = extent(everything) || [0, 1];
  const [y0, y1] = yDomain || niceDomain(found[0], found[1], 4);
  const n = labels.length;
  const x = n > 1 ? linearScale([0, n - 1], [inner.left, inner.right]) : () => (inner.left + inner.right) / 2;
  const y = linearScale([y0, y1], [inner.bottom, inner.top]);

  const grid = ticks(y0, y1, 4).map((t) => node("g", { class: "tick" },
    node("line", { x1: inner.left, x2: inner.right, y1: px(y(t)), y2: px(y(t)) }),
    node("text", { x: inner.left - 6, y: px(y(t)), "text-anchor": "end", "dominant-baseline": "middle" }, format(t))));
  // No more x labels than fit side by side; the last one is always shown.
  const room = Math.max(1, Math.floor((inner.right - inner.left) / 72));
  const every = Math.max(1, Math.ceil(n / room));
  const xLabels = labels.map((text, i) => ((i % every === 0 && (n - 1 - i) >= every / 2) || i === n - 1
    ? node("text", { class: "x-label", x: px(x(i)), y: height - 8, "text-anchor": n === 1 ? "middle" : i === 0 ? "start" : i === n - 1 ? "end" : "middle" }, text)
    : null));

  const layers = series.map((s) => {
    const band = s.band || [];
    const banded = runs(n, (i) => Array.isArray(band[i]) && isNumber(band[i][0]) && isNumber(band[i][1]));
    const bands = banded.map((run) => node("path", {
      class: "band",
      d: `${run.map((i, k) => `${k ? "L" : "M"}${px(x(i))},${px(y(band[i][1]))}`).join("")}` +
        `${[...run].reverse().map((i) => `L${px(x(i))},${px(y(band[i][0]))}`).join("")}Z`,
    }));
    const lines = runs(n, (i) => isNumber(s.values[i])).map((run) => node("path", {
      class: "line", d: run.map((i, k) => `${k ? "L" : "M"}${px(x(i))},${px(y(s.values[i]))}`).join(""),
    }));
    const points = s.values.map((v, i) => (isNumber(v) ? node("circle", {
      class: "point", cx: px(x(i)), cy: px(y(v)), r: 3.5, "data-value": v,
    }, title(`${s.name}, ${labels[i]}: ${format(v)}` + (Array.isArray(band[i]) && isNumber(band[i][0])
      ? ` (${format(band[i][0])} to ${format(band[i][1])})` : ""))) : null));
    return node("g", { class: `series ${s.className || ""}`.trim(), "data-name": s.name }, ...bands, ...lines, ...points);
  });
  return frame({ width, height, label, className: "line-chart" },
    node("g", { class: "grid" }, ...grid), node("g", { class: "x-axis" }, ...xLabels), ...layers);
}

// ---------------------------------------------------------------- horizontal bars

/* One bar per row, label on the left and value on the right, on a fixed `domain`.
 * `rows`: [{label, value|null, title?, highlight?}]. `reference` draws a vertical line
 * (an expected value such as 0.5). */
export function barChart({ rows, width = 480, rowHeight = 26, domain = [0, 1], reference = null,
  format = (v) => String(v), label = "Bar chart", missing = "n/a" }) {
  const size = 12;
  const labelWidth = Math.min(width * 0.38, Math.max(48, ...rows.map((r) => textWidth(r.label, size))) + 8);
  const valueWidth = 56;
  const top = reference === null ? 4 : 18;
  const height = top + rows.length * rowHeight + 4;
  const x = linearScale(domain, [labelWidth, width - valueWidth]);
  const bars = rows.map((r, i) => {
    const yMid = top + i * rowHeight + rowHeight / 2;
    const has = isNumber(r.value);
    const start = x(Math.max(domain[0], Math.min(0, domain[1])));
    const end = has ? x(Math.min(domain[1], Math.max(domain[0], r.value))) : start;
    return node("g", { class: `bar-row${r.highlight ? " highlight" : ""}${has ? "" : " missing"}`, "data-label": r.label, "data-value": has ? r.value : null },
      title(r.title || `${r.label}: ${has ? format(r.value) : missing}`),
      node("text", { class: "bar-label", x: labelWidth - 8, y: px(yMid), "text-anchor": "end", "dominant-baseline": "middle" }, fit(r.label, labelWidth - 10, size)),
      node("rect", { class: "track", x: px(labelWidth), y: px(yMid - rowHeight * 0.32), width: px(x(domain[1]) - labelWidth), height: px(rowHeight * 0.64), rx: 3 }),
      has ? node("rect", { class: "bar", x: px(Math.min(start, end)), y: px(yMid - rowHeight * 0.32), width: px(Math.abs(end - start)), height: px(rowHeight * 0.64), rx: 3 }) : null,
      node("text", { class: "bar-value", x: width - valueWidth + 6, y: px(yMid), "dominant-baseline": "middle" }, has ? format(r.value) : missing));
  });
  const ref = reference === null ? null : node("g", { class: "reference" },
    node("line", { x1: px(x(reference)), x2: px(x(reference)), y1: top - 4, y2: height - 2 }),
    node("text", { x: px(x(reference)), y: 11, "text-anchor": "middle" }, format(reference)));
  return frame({ width, height, label, className: "bar-chart" }, ...bars, ref);
}

// ---------------------------------------------------------------- columns over time

/* A label centred on `x` unless that would cross the chart's edge; then it ends (or
 * starts) there instead. */
export function edgeAnchor(x, text, width, size = 12) {
  const half = textWidth(text, size) / 2;
  if (x + half > width) return "end";
  return x - half < 0 ? "start" : "middle";
}

/* Vertical bars over categories (hours, say). `columns`: [{label, value, title?}];
 * `tickLabel(column, i)` returns the x label to show under a column, or null. */
export function columnChart({ columns, width = 480, height = 120, label = "Column chart",
  format = (v) => String(v), tickLabel = () => null }) {
  const margin = { top: 8, right: 4, bottom: 20, left: 32 };
  const max = Math.max(0, ...columns.map((c) => (isNumber(c.value) ? c.value : 0)));
  const [, top] = niceDomain(0, max || 1, 3);
  const y = linearScale([0, top], [height - margin.bottom, margin.top]);
  const band = bandLayout(columns.length, [margin.left, width - margin.right], 0.2);
  const grid = ticks(0, top, 3).map((t) => node("g", { class: "tick" },
    node("line", { x1: margin.left, x2: width - margin.right, y1: px(y(t)), y2: px(y(t)) }),
    node("text", { x: margin.left - 4, y: px(y(t)), "text-anchor": "end", "dominant-baseline": "middle" }, format(t))));
  const bars = columns.map((c, i) => {
    const v = isNumber(c.value) ? c.value : 0;
    const tick = tickLabel(c, i);
    return node("g", { class: "column", "data-value": v },
      title(c.title || `${c.label}: ${format(v)}`),
      node("rect", { class: "bar", x: px(band.at(i)), y: px(y(v)), width: px(Math.max(1, band.width)), height: px(y(0) - y(v)) }),
      tick === null ? null : node("text", { class: "x-label", x: px(band.at(i) + band.width / 2), y: height - 6, "text-anchor": edgeAnchor(band.at(i) + band.width / 2, tick, width) }, tick));
  });
  return frame({ width, height, label, className: "column-chart" }, node("g", { class: "grid" }, ...grid), ...bars);
}

// ---------------------------------------------------------------- heatmap

/* A square matrix: `labels` name the rows and the columns alike; `cell(i, j)` gives
 * {value, text?, title?} or null (nothing to show, drawn blank). Colour from
 * `color(value)`, the value written in each cell with ink that contrasts with it. */
export function heatmap({ labels, cell, width = 480, label = "Heatmap", color = (v) => divergingColor(v),
  format = (v) => String(v), missing = "–" }) {
  const size = 12;
  const n = labels.length;
  const labelWidth = Math.min(width * 0.3, Math.max(...labels.map((l) => textWidth(l, size)), 24) + 10);
  const cellSize = Math.max(30, Math.min(64, (width - labelWidth - 4) / Math.max(1, n)));
  // Column labels are turned 45°, so they need about 0.71 of their length above the grid.
  const top = Math.min(labelWidth, Math.max(...labels.map((l) => textWidth(l, size)), 24)) * 0.71 + 14;
  const gridWidth = cellSize * n;
  const totalWidth = Math.max(width, labelWidth + gridWidth + 4);
  const height = top + gridWidth + 4;
  const rows = labels.map((l, i) => node("text", {
    class: "row-label", x: labelWidth - 6, y: px(top + (i + 0.5) * cellSize), "text-anchor": "end", "dominant-baseline": "middle",
  }, fit(l, labelWidth - 8, size)));
  const cols = labels.map((l, j) => {
    const cx = labelWidth + (j + 0.5) * cellSize;
    return node("text", {
      class: "col-label", x: px(cx), y: px(top - 6), transform: `rotate(-45 ${px(cx)} ${px(top - 6)})`,
    }, fit(l, labelWidth - 8, size));
  });
  const cells = [];
  for (let i = 0; i < n; i += 1) {
    for (let j = 0; j < n; j += 1) {
      const c = cell(i, j);
      const has = c && isNumber(c.value);
      const fill = has ? color(c.value) : MISSING;
      const text = c && c.text !== undefined ? c.text : has ? format(c.value) : c ? missing : "";
      // Colours go in as style: a stylesheet's rule for chart text would beat an attribute.
      cells.push(node("g", { class: `cell${has ? "" : " empty"}${c ? "" : " diagonal"}`, "data-row": i, "data-col": j, "data-value": has ? c.value : null },
        title(c && c.title),
        node("rect", { x: px(labelWidth + j * cellSize), y: px(top + i * cellSize), width: px(cellSize - 2), height: px(cellSize - 2), rx: 3, fill, style: `fill:${fill}` }),
        text ? node("text", {
          x: px(labelWidth + (j + 0.5) * cellSize - 1), y: px(top + (i + 0.5) * cellSize - 1),
          "text-anchor": "middle", "dominant-baseline": "middle", fill: inkOn(fill), style: `fill:${inkOn(fill)}`,
        }, text) : null));
    }
  }
  return frame({ width: totalWidth, height, label, className: "heatmap" }, ...rows, ...cols, ...cells);
}
