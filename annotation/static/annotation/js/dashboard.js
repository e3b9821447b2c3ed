/* The manager dashboard: progress, agreement (headline figures, weekly chart, Cohen κ
 * heatmap), and the annotator table with pause and resume for managers. Everything comes
 * from the REST API; the charts are redrawn for their container's width. */

import { ApiError, createApi } from "./api.js";
import { barChart, columnChart, divergingColor, heatmap, lineChart, toSvg } from "./charts.js";
import { make } from "./dom.js";
import {
  ANNOTATOR_FIELDS, biasRows, completion, fixed, goldRows, headline, hourlyColumns, kappaMatrix,
  percent, weeklyDomain, weeklySeries, words,
} from "./figures.js";
import { renderTable } from "./table.js";

const $ = (id) => document.getElementById(id);
const config = JSON.parse($("quality-config").textContent);
const api = createApi({ csrfCookie: config.csrfCookie || "csrftoken" });
const root = $("dashboard");

const state = {
  progress: null,
  agreement: null,
  annotators: null,
  sort: { key: "username", direction: "ascending" },
  pausing: null,      // the membership id whose pause form is open
  busy: false,
  errors: new Map(),  // what failed to load, by source
};

const memberUrl = (id) => config.urls.member.replace("{id}", encodeURIComponent(id));

// ---------------------------------------------------------------- messages

function renderErrors() {
  const box = $("error");
  const lines = [...state.errors.values()];
  box.replaceChildren(...lines.map((line) => make("p", null, line)));
  box.hidden = !lines.length;
}

function failed(source, err) {
  if (!(err instanceof ApiError)) throw err;
  const what = { progress: "progress", agreement: "agreement figures", annotators: "annotator table", member: "change" }[source];
  state.errors.set(source, err.network ? `The ${what} could not be loaded (network problem).`
    : `The ${what} failed: ${[err.message, ...err.problems].join(" ")}`);
  renderErrors();
}

function loaded(source) {
  if (state.errors.delete(source)) renderErrors();
}

// ---------------------------------------------------------------- charts

function draw(containerId, build, empty) {
  const box = $(containerId);
  const width = Math.max(240, Math.floor(box.clientWidth || 480));
  const tree = build(width);
  box.replaceChildren(tree ? toSvg(tree) : make("p", { class: "muted empty-chart" }, empty));
}

function drawProgress() {
  const p = state.progress;
  if (!p) return;
  const { done, total, share } = completion(p);
  $("items-done").textContent = String(done);
  $("items-total").textContent = String(total);
  $("items-percent").textContent = total ? `(${percent(share)})` : "";
  $("labels-hour").textContent = String(p.labels_last_hour ?? 0);
  $("labels-total").textContent = String(p.n_labels ?? 0);
  const gold = p.n_gold ?? 0;
  $("gold-total").textContent = `${gold} gold item${gold === 1 ? "" : "s"}`;
  const bar = $("items-bar");
  bar.setAttribute("aria-valuenow", String(Math.round(100 * share)));
  bar.firstElementChild.style.width = `${(100 * share).toFixed(1)}%`;
  $("review-count").textContent = String(p.review_queue ?? 0);
  const columns = hourlyColumns(p.labels_per_hour);
  draw("hourly-chart", (width) => (columns.some((c) => c.value > 0) ? columnChart({
    columns, width, height: 120, label: `Labels per hour over the last ${columns.length} hours`,
    tickLabel: (c) => c.tick,
  }) : null), "No labels in the last 24 hours.");
}

function drawAgreement() {
  const a = state.agreement;
  if (!a) return;
  $("agreement-summary").textContent = `${a.n_labels} labels on ${a.n_items} items with two or more labels, ` +
    `by ${a.n_annotators} annotator${a.n_annotators === 1 ? "" : "s"} (${a.n_units} pair units).` +
    (a.ci && a.ci.samples ? ` Intervals from ${a.ci.samples} bootstrap resamples of items.` : "");
  $("headline").replaceChildren(...headline(a).map((t) => make("div", { class: "tile", dataset: { key: t.key } },
    make("span", { class: "tile-label" }, t.label),
    make("strong", { class: "tile-value" }, t.value),
    make("span", { class: "tile-ci muted small" }, t.ci || "\u00a0"))));

  const weekly = weeklySeries(a.weekly);
  draw("weekly-chart", (width) => (weekly.labels.length ? lineChart({
    ...weekly, width, height: 240, yDomain: weeklyDomain(weekly), format: (v) => fixed(v),
    label: `Agreement per week over ${weekly.labels.length} week${weekly.labels.length === 1 ? "" : "s"}`,
  }) : null), "No week has two labels on the same item yet.");

  const matrix = kappaMatrix(a.cohen_kappa, { minUnits: a.cohen_min_units });
  $("kappa-note").textContent = `Each cell: Cohen's κ over the pair votes two annotators share; – where they share fewer than ${a.cohen_min_units}. Hover for the count.`;
  draw("kappa-chart", (width) => (matrix.labels.length > 1 ? heatmap({
    labels: matrix.labels, cell: matrix.cell, width, format: (v) => fixed(v),
    color: (v) => divergingColor(v, [-1, 1]), label: `Cohen κ between ${matrix.labels.length} annotators`,
  }) : null), `No two annotators share ${a.cohen_min_units} pair votes yet.`);
}

function drawAnnotatorCharts() {
  const rows = state.annotators ? state.annotators.results : [];
  draw("bias-chart", (width) => (rows.length ? barChart({
    rows: biasRows(rows), width, reference: 0.5, format: (v) => fixed(v), label: "First-shown win share per annotator",
  }) : null), "No annotators yet.");
  draw("gold-chart", (width) => (rows.length ? barChart({
    rows: goldRows(rows), width, format: (v) => percent(v), label: "Gold accuracy per annotator",
  }) : null), "No annotators yet.");
}

// ---------------------------------------------------------------- the annotator table

function statusCell(row) {
  const paused = row.status === "paused";
  const cell = make("div", { class: "status-cell" },
    make("span", { class: `badge ${paused ? "paused" : "active"}` }, row.status));
  if (paused) {
    const by = [row.paused_by ? `by ${row.paused_by}` : "", row.paused_at ? new Date(row.paused_at).toLocaleString() : ""]
      .filter(Boolean).join(", ");
    cell.append(make("span", { class: "paused-reason" }, row.paused_reason || "(no reason given)"),
      by ? make("span", { class: "muted small" }, by) : null);
  }
  return cell;
}

function actionCell(row) {
  if (row.annotator === config.userId || row.member == null) return "";
  if (row.status === "paused") {
    return make("button", { type: "button", class: "small resume", disabled: state.busy, onclick: () => resume(row) }, "Resume");
  }
  return make("button", {
    type: "button", class: "small pause", disabled: state.busy, "aria-expanded": String(state.pausing === row.member),
    onclick: () => {
      state.pausing = state.pausing === row.member ? null : row.member;
      drawTable();
      const input = document.querySelector(`#pause-reason-${row.member}`);
      if (input) input.focus();
    },
  }, "Pause…");
}

function columns() {
  const special = {
    username: (r) => make("span", null, r.username, r.annotator === config.userId ? make("span", { class: "muted small" }, " (you)") : null),
    status: statusCell,
    flags: (r) => make("span", { class: "flags" }, ...(r.flags || []).map((f) => make("span", { class: "badge flag" }, words(f)))),
    reason: (r) => make("span", { class: "muted small" }, r.reason || ""),
  };
  const out = ANNOTATOR_FIELDS.map((f) => ({ ...f, cell: special[f.key] || f.text }));
  // Beside the status it changes, where a phone shows it without scrolling the table.
  const status = out.findIndex((c) => c.key === "status");
  if (config.isManager) out.splice(status + 1, 0, { key: "actions", label: "Actions", sortable: false, value: () => null, cell: actionCell });
  return out;
}

function pauseForm(row, span) {
  const id = `pause-reason-${row.member}`;
  const form = make("form", { class: "pause-form" },
    make("label", { for: id }, `Why pause ${row.username}?`),
    make("input", { id, name: "reason", required: true, maxlength: "2000", autocomplete: "off",
      placeholder: "Shown to other managers, and kept with the pause" }),
    make("button", { type: "submit", class: "primary small" }, "Pause annotator"),
    make("button", { type: "button", class: "small", onclick: () => { state.pausing = null; drawTable(); } }, "Cancel"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const reason = form.elements.reason.value.trim();
    if (reason) pause(row, reason);
  });
  return make("tr", { class: "pause-row" }, make("td", { colspan: String(span) }, form));
}

function drawTable() {
  const data = state.annotators;
  if (!data) return;
  const cols = columns();
  $("annotators-summary").textContent = `${data.count} annotator${data.count === 1 ? "" : "s"}` +
    (data.project_median_seconds != null ? ` · project median ${fixed(data.project_median_seconds, 1)} s a label` : "") +
    ` · trust is judged after ${data.min_labels} labels` +
    (data.pause_below_trust != null ? ` · auto-pause below trust ${fixed(data.pause_below_trust)}` : "");
  renderTable($("annotators"), {
    columns: cols, rows: data.results, sort: state.sort,
    onSort: (sort) => {
      state.sort = sort;
      drawTable();
      const header = document.querySelector(`#annotators th[data-key="${sort.key}"] button`);
      if (header) header.focus();
    },
    rowAttrs: (r) => ({ class: r.status === "paused" ? "paused" : null, dataset: { annotator: String(r.annotator), member: String(r.member ?? "") } }),
    after: (r) => (config.isManager && state.pausing === r.member && r.status !== "paused" ? pauseForm(r, cols.length) : null),
  });
}

async function setStatus(row, body) {
  if (state.busy) return;
  state.busy = true;
  drawTable();
  try {
    await api.request("PATCH", memberUrl(row.member), { body });
    loaded("member");
    state.pausing = null;
  } catch (err) {
    failed("member", err);
  } finally {
    state.busy = false;
  }
  await loadAnnotators();
}

const pause = (row, reason) => setStatus(row, { status: "paused", reason });
const resume = (row) => setStatus(row, { status: "active" });

// ---------------------------------------------------------------- loading

async function load(source, url, after) {
  try {
    const { data } = await api.get(url);
    state[source] = data;
    loaded(source);
    after();
  } catch (err) {
    failed(source, err);
  }
}

function loadAnnotators() {
  return load("annotators", config.urls.annotators, () => { drawTable(); drawAnnotatorCharts(); });
}

function redraw() {
  drawProgress();
  drawAgreement();
  drawAnnotatorCharts();
}

let resizeTimer = null;
let lastWidth = window.innerWidth;
window.addEventListener("resize", () => {
  if (window.innerWidth === lastWidth) return;
  lastWidth = window.innerWidth;
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(redraw, 150);
});

Promise.all([
  load("progress", config.urls.progress, drawProgress),
  loadAnnotators(),
  load("agreement", config.urls.agreement, drawAgreement),
]).then(() => {
  $("loading").hidden = true;
  root.dataset.state = state.errors.size ? "error" : "ready";
});
