/* What the export page knows without the DOM: the filters as the export endpoint's query
 * string and as a snapshot's body, the preview rows as table cells, and the snapshot list's
 * statuses. The names and meanings of the filters are the API's (see the README, Export). */

export const FILTERS = [
  "format", "consensus", "ties", "min_agreement", "min_annotations", "include_gold",
  "annotators", "guideline_version", "since", "source", "split", "split_seed", "test_size",
];

/* Filters that mean something only beside another. */
const NEEDS = { split_seed: "split", test_size: "split" };

/* A datetime-local value ("2024-05-01T09:30", the browser's own time zone) as an ISO 8601
 * instant in UTC; "" for an empty or unreadable value. `toDate` is injectable for tests. */
export function sinceParam(local, toDate = (text) => new Date(text)) {
  const text = String(local ?? "").trim();
  if (!text) return "";
  const when = toDate(text);
  return Number.isNaN(when.getTime()) ? "" : when.toISOString();
}

/* The filters the form holds, cleaned: strings trimmed, empty ones dropped, annotators as
 * sorted unique ids, include_gold only when set, since as an instant. */
export function cleanFilters(values) {
  const out = {};
  for (const name of FILTERS) {
    const raw = values[name];
    if (name === "annotators") {
      const ids = [...new Set((raw || []).map((v) => Number.parseInt(v, 10)))]
        .filter((v) => Number.isInteger(v)).sort((a, b) => a - b);
      if (ids.length) out.annotators = ids;
      continue;
    }
    if (name === "include_gold") {
      if (raw === true || raw === "true" || raw === "on") out.include_gold = true;
      continue;
    }
    const text = name === "since" ? sinceParam(raw) : String(raw ?? "").trim();
    if (text) out[name] = text;
  }
  for (const [name, needed] of Object.entries(NEEDS)) {
    if (!(needed in out)) delete out[name];
  }
  return out;
}

/* The query string of GET .../export/ (and of /count/) for the cleaned filters; `extra`
 * adds parameters such as preview=10 or compress=gzip. Keys keep FILTERS order. */
export function queryOf(filters, extra = {}) {
  const params = new URLSearchParams();
  for (const name of FILTERS) {
    const value = filters[name];
    if (value === undefined) continue;
    if (name === "annotators") params.set(name, value.join(","));
    else if (name === "include_gold") params.set(name, "true");
    else params.set(name, String(value));
  }
  for (const [name, value] of Object.entries(extra)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  return params.toString();
}

export function withQuery(url, query) {
  return query ? `${url}${url.includes("?") ? "&" : "?"}${query}` : url;
}

/* The body of POST .../snapshots/: the same filters as JSON values. */
export function snapshotBody(filters) {
  const body = {};
  for (const [name, value] of Object.entries(filters)) {
    if (["min_agreement", "test_size"].includes(name)) body[name] = Number(value);
    else if (["min_annotations", "guideline_version", "split_seed"].includes(name)) {
      body[name] = Number.parseInt(value, 10);
    } else body[name] = value;
  }
  return body;
}

/* The columns of the preview table: the format's own first, then whatever else the rows
 * carry (a format that grew a field still shows it). */
const COLUMNS = {
  trl: ["item_id", "prompt", "chosen", "rejected", "agreement", "n_annotations", "margin", "tie"],
  "hh-rlhf": ["chosen", "rejected"],
  consensus: ["item_id", "prompt", "messages", "responses", "ranking", "method", "confidence",
    "agreement", "n_labels", "n_annotations", "review"],
  annotations: ["annotation_id", "item_id", "annotator", "source", "ranking", "strength",
    "flags", "rationale", "duration_ms", "guideline_version", "created_at"],
};

export function previewColumns(format, rows) {
  const seen = new Set();
  for (const row of rows || []) for (const key of Object.keys(row || {})) seen.add(key);
  const known = (COLUMNS[format] || []).filter((key) => seen.has(key));
  return [...known, ...[...seen].filter((key) => !known.includes(key))];
}

function oneLine(text, max) {
  const line = String(text).replace(/\s+/g, " ").trim();
  return line.length <= max ? line : `${line.slice(0, max - 1).trimEnd()}…`;
}

const isMessage = (v) => v && typeof v === "object" && "role" in v && "content" in v;

/* One cell of the preview as plain text: a conversation as "role: content" turns, numbers
 * to three decimals, empty text marked, anything else as compact JSON; cut at `max`. */
export function cellText(value, max = 120) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "string") return value.trim() ? oneLine(value, max) : "(empty)";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(3);
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (Array.isArray(value) && value.length && value.every(isMessage)) {
    return oneLine(value.map((m) => `${m.role}: ${String(m.content).trim() || "(empty)"}`)
      .join(" · "), max);
  }
  return oneLine(JSON.stringify(value), max);
}

export function countText(n) {
  if (n === null || n === undefined) return "–";
  return `${Number(n).toLocaleString("en-US")} row${n === 1 ? "" : "s"}`;
}

/* Bad parameters as the API names them: field → message (the first one for a field). */
export function fieldProblems(body) {
  const out = {};
  for (const e of (body && Array.isArray(body.errors) ? body.errors : [])) {
    if (e && e.field != null && !(e.field in out)) out[String(e.field)] = String(e.message ?? "");
  }
  return out;
}

// ---------------------------------------------------------------- snapshots

export const BUILDING = new Set(["queued", "running"]);

export function isBuilding(snapshot) {
  return Boolean(snapshot) && BUILDING.has(snapshot.status);
}

export function anyBuilding(snapshots) {
  return (snapshots || []).some(isBuilding);
}

/* What the status cell says: "queued", "building 42%", "ready", "failed: why". */
export function statusText(snapshot) {
  const { status } = snapshot;
  if (status === "running") return `building ${Math.round(100 * clamp01(snapshot.progress))}%`;
  if (status === "failed") return snapshot.detail ? `failed: ${oneLine(snapshot.detail, 80)}` : "failed";
  return String(status);
}

function clamp01(x) {
  const v = Number(x);
  return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
}

export function progressPercent(snapshot) {
  if (snapshot.status === "ready") return 100;
  return Math.round(100 * clamp01(snapshot.progress));
}

export function bytesText(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = Number(n);
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit ? `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}` : `${value} B`;
}

/* The downloads a ready snapshot offers, from the URLs its API answer carries. */
export function snapshotFiles(snapshot) {
  if (snapshot.status !== "ready") return [];
  return [
    { key: "jsonl", label: "JSONL", url: snapshot.download_url },
    { key: "parquet", label: "Parquet", url: snapshot.parquet_url },
    { key: "card", label: "Card", url: snapshot.card_url },
  ].filter((f) => typeof f.url === "string" && f.url);
}

/* The filters a snapshot was built with (its stored parameters, every one of them), as one
 * line of those that differ from the defaults; the consensus method is always named. */
const DEFAULTS = { ties: "drop", include_gold: false, split_seed: 0, test_size: 0.1 };

export function paramsText(params) {
  const p = params || {};
  const parts = Object.entries(p)
    .filter(([key, value]) => key !== "format" && value !== null && value !== undefined &&
      !(Array.isArray(value) && !value.length) && DEFAULTS[key] !== value &&
      !(NEEDS[key] && !p[NEEDS[key]]))
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join(",") : value}`);
  return parts.join(" · ") || "no filters";
}
