/* The export page: the filter form drives a live preview (the first rows and the row
 * count, from GET .../export/?preview=N), the Download link (the streaming URL with the
 * same filters) and "Create snapshot" (POST .../snapshots/); the snapshot list polls while
 * a snapshot is being built. Pure logic lives in exporting.js. */

import { ApiError, createApi } from "./api.js";
import { make } from "./dom.js";
import {
  anyBuilding, bytesText, cellText, cleanFilters, countText, fieldProblems, isBuilding,
  paramsText, previewColumns, progressPercent, queryOf, snapshotBody, snapshotFiles, statusText,
  withQuery,
} from "./exporting.js";

const $ = (id) => document.getElementById(id);
const config = JSON.parse($("export-config").textContent);
const api = createApi({ csrfCookie: config.csrfCookie || "csrftoken" });
const root = $("export-page");
const form = $("filters");
const POLL_MS = 1000;
const TYPING_MS = 250;

const state = {
  filters: {},
  inFlight: false,  // a preview request is out
  pending: false,   // the filters changed since it was sent
  valid: false,
  snapshots: [],
  poll: null,
  typing: null,
  errors: new Map(),
};

// ---------------------------------------------------------------- messages

function renderErrors() {
  const box = $("error");
  const lines = [...state.errors.values()];
  box.replaceChildren(...lines.map((line) => make("p", null, line)));
  box.hidden = !lines.length;
}

function failed(source, err) {
  if (!(err instanceof ApiError)) throw err;
  const what = { preview: "preview", snapshots: "snapshot list", create: "new snapshot" }[source];
  state.errors.set(source, err.network ? `The ${what} could not be loaded (network problem).`
    : `The ${what} failed: ${[err.message, ...err.problems].join(" ")}`);
  renderErrors();
}

function loaded(source) {
  if (state.errors.delete(source)) renderErrors();
}

// ---------------------------------------------------------------- filters

function readForm() {
  const data = new FormData(form);
  const values = {};
  for (const [name, value] of data.entries()) {
    if (name === "annotators") (values.annotators ||= []).push(value);
    else values[name] = value;
  }
  values.include_gold = $("f-include_gold").checked;
  return cleanFilters(values);
}

/* Each bad filter's message under its field; any other (not a field of the form) in the
 * list at the top of the form. */
function showProblems(problems) {
  for (const node of form.querySelectorAll(".field-problem")) node.remove();
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  const elsewhere = [];
  for (const [field, message] of Object.entries(problems)) {
    const named = form.elements.namedItem(field);
    const input = named && named.length !== undefined && !named.tagName ? named[0] : named;
    if (!input) {
      elsewhere.push(`${field}: ${message}`);
      continue;
    }
    input.setAttribute("aria-invalid", "true");
    const anchor = input.closest("fieldset") || input.closest("label.check") || input;
    anchor.after(make("p", { class: "field-problem", role: "alert", dataset: { field } }, message));
  }
  const list = $("filter-problems");
  list.replaceChildren(...elsewhere.map((line) => make("li", null, line)));
  list.hidden = !elsewhere.length;
}

function updateLinks() {
  const extra = $("gzip").checked ? { compress: "gzip" } : {};
  const link = $("download");
  link.href = withQuery(config.urls.export, queryOf(state.filters, extra));
  link.classList.toggle("disabled", !state.valid);
  link.setAttribute("aria-disabled", state.valid ? "false" : "true");
  $("create-snapshot").disabled = !state.valid;
}

function showFormatHelp() {
  const select = form.elements.namedItem("format");
  $("format-help").textContent = select.selectedOptions[0]?.dataset.help || "";
}

function toggleSplitFields() {
  const split = Boolean(form.elements.namedItem("split").value);
  for (const node of root.querySelectorAll(".split-only")) node.hidden = !split;
}

// ---------------------------------------------------------------- preview

function renderPreview(format, rows, count) {
  const columns = previewColumns(format, rows);
  const table = $("preview");
  table.replaceChildren(
    make("thead", null, make("tr", null, ...columns.map((c) => make("th", { scope: "col" }, c)))),
    make("tbody", null, ...rows.map((row) => make("tr", null,
      ...columns.map((c) => make("td", {
        class: typeof row[c] === "string" || (row[c] && typeof row[c] === "object") ? "text" : "short",
        dataset: { key: c }, title: cellText(row[c], 2000),
      }, cellText(row[c])))))),
  );
  table.hidden = !rows.length;
  $("preview-empty").hidden = Boolean(rows.length);
  $("row-count").textContent = countText(count);
  $("row-count").dataset.count = String(count);
  $("filters-count").textContent = countText(count);
  $("preview-note").textContent = rows.length && count > rows.length
    ? `the first ${rows.length} shown` : "";
}

/* One preview request at a time: on a big project each one counts the whole export, so
 * filters changed while one is out are sent once it is back (the newest values only). */
async function refreshPreview() {
  if (state.inFlight) {
    state.pending = true;
    return;
  }
  state.inFlight = true;
  root.dataset.state = "loading";
  do {
    state.pending = false;
    await previewOnce();
  } while (state.pending);
  state.inFlight = false;
  updateLinks();
  root.dataset.state = state.valid ? "ready" : "invalid";
}

async function previewOnce() {
  const filters = readForm();
  state.filters = filters;
  updateLinks();
  const url = withQuery(config.urls.export, queryOf(filters, { preview: config.previewRows }));
  try {
    const { data } = await api.get(url);
    if (state.pending) return;  // the filters changed meanwhile: this answer is stale
    state.valid = true;
    showProblems({});
    renderPreview(filters.format, data.rows || [], data.count);
    loaded("preview");
  } catch (err) {
    if (state.pending) return;
    state.valid = false;
    if (err instanceof ApiError && err.status === 400) {
      // Bad filters: say which, next to the form; the preview keeps its last rows.
      showProblems(fieldProblems(err.body));
      $("row-count").textContent = "–";
      $("filters-count").textContent = "";
      $("preview-note").textContent = "fix the filters to see rows";
      loaded("preview");
    } else {
      failed("preview", err);
    }
  }
}

function scheduleRefresh(delay) {
  clearTimeout(state.typing);
  state.typing = setTimeout(refreshPreview, delay);
}

// ---------------------------------------------------------------- snapshots

function when(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString();
}

function snapshotRow(s) {
  const percent = progressPercent(s);
  const status = make("td", { class: "status", dataset: { key: "status", label: "Status" } },
    make("span", { class: `badge ${s.status}` }, statusText(s)));
  if (isBuilding(s)) {
    status.append(make("div", {
      class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
      "aria-valuenow": String(percent), "aria-label": "Snapshot progress",
    }, make("span", { style: `width:${percent}%` })));
  }
  const files = snapshotFiles(s).map((f) => make("a", {
    class: "button small", href: f.url, download: "", dataset: { file: f.key },
  }, f.label));
  const cell = (label, attrs, ...children) => make("td", { ...attrs, dataset: { ...(attrs && attrs.dataset), label } }, ...children);
  return make("tr", { dataset: { snapshot: s.id, status: s.status } },
    cell("Created", null, when(s.created_at)),
    cell("Format", null, s.format),
    cell("Filters", { class: "small" }, paramsText(s.params)),
    status,
    cell("Rows", { dataset: { key: "rows" } }, s.rows == null ? "–" : Number(s.rows).toLocaleString("en-US")),
    cell("Size", null, bytesText(s.size_bytes) || "–"),
    cell("SHA-256", { class: "mono", title: s.sha256 || "" }, s.sha256 ? `${s.sha256.slice(0, 12)}…` : "–"),
    cell("Files", { class: "files" }, ...files));
}

function renderSnapshots() {
  $("snapshots").tBodies[0].replaceChildren(...state.snapshots.map(snapshotRow));
  $("snapshots").hidden = !state.snapshots.length;
  $("snapshots-empty").hidden = Boolean(state.snapshots.length);
}

async function loadSnapshots() {
  clearTimeout(state.poll);
  try {
    const { data } = await api.get(config.urls.snapshots);
    state.snapshots = Array.isArray(data) ? data : data.results || [];
    renderSnapshots();
    loaded("snapshots");
  } catch (err) {
    failed("snapshots", err);
  }
  if (anyBuilding(state.snapshots)) state.poll = setTimeout(loadSnapshots, POLL_MS);
}

async function createSnapshot() {
  const button = $("create-snapshot");
  button.disabled = true;
  try {
    const { data } = await api.post(config.urls.snapshots, snapshotBody(state.filters));
    state.snapshots = [data, ...state.snapshots.filter((s) => s.id !== data.id)];
    renderSnapshots();
    loaded("create");
  } catch (err) {
    if (err instanceof ApiError && err.status === 400) showProblems(fieldProblems(err.body));
    failed("create", err);
  } finally {
    button.disabled = !state.valid;
  }
  // The new one may have been built already (an eager worker): the list says.
  await loadSnapshots();
}

// ---------------------------------------------------------------- start

// Typed fields wait for a pause in typing; choices refresh at once.
const typed = (target) => ["number", "text", "datetime-local"].includes(target.type);
form.addEventListener("input", (event) => {
  if (typed(event.target)) scheduleRefresh(TYPING_MS);
});
form.addEventListener("change", (event) => {
  if (event.target.name === "split") toggleSplitFields();
  if (event.target.name === "format") showFormatHelp();
  scheduleRefresh(typed(event.target) ? TYPING_MS : 0);
});
form.addEventListener("submit", (event) => event.preventDefault());
$("gzip").addEventListener("change", updateLinks);
$("download").addEventListener("click", (event) => {
  if (!state.valid) event.preventDefault();
});
$("create-snapshot").addEventListener("click", createSnapshot);

toggleSplitFields();
refreshPreview();
loadSnapshots();
