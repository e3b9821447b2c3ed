/* Tables sorted by any column. The order is pure (`sortRows`, `nextSort`); `renderTable`
 * draws it with a button in every sortable header and aria-sort on the sorted one.
 *
 * A column is {key, label, value(row) → sortable value, cell?(row) → node or text,
 * sortable? (default true), numeric?, title?}. Missing values (null, undefined, NaN) sort
 * last in both directions: a sort by gold accuracy shows the annotators who have one. */

import { make } from "./dom.js";

const missing = (v) => v === null || v === undefined || (typeof v === "number" && Number.isNaN(v));

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

/* Ascending order of two present values: numbers by value, booleans false first, arrays
 * by length and then by their text, anything else as text in natural order ("a2" < "a10"). */
export function compareValues(a, b) {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length - b.length || collator.compare(a.join(","), b.join(","));
  return collator.compare(String(a), String(b));
}

/* A sorted copy of `rows`; equal rows keep their order (stable), missing values last. */
export function sortRows(rows, columns, sort) {
  const column = sort && columns.find((c) => c.key === sort.key);
  if (!column) return rows.slice();
  const sign = sort.direction === "descending" ? -1 : 1;
  return rows
    .map((row, index) => ({ row, index, value: column.value(row) }))
    .sort((p, q) => {
      const [pm, qm] = [missing(p.value), missing(q.value)];
      if (pm || qm) return pm === qm ? p.index - q.index : pm ? 1 : -1;
      return sign * compareValues(p.value, q.value) || p.index - q.index;
    })
    .map((entry) => entry.row);
}

/* The sort after clicking `key`'s header: the same column flips its direction; another
 * starts ascending for text and descending for numbers (biggest first is what one looks for). */
export function nextSort(sort, key, columns) {
  const column = columns.find((c) => c.key === key);
  if (!column || column.sortable === false) return sort;
  if (sort && sort.key === key) {
    return { key, direction: sort.direction === "ascending" ? "descending" : "ascending" };
  }
  return { key, direction: column.numeric ? "descending" : "ascending" };
}

export function ariaSort(sort, key) {
  return sort && sort.key === key ? sort.direction : "none";
}

/* Draws `rows` into `table` (its thead and tbody replaced) sorted by `sort`.
 * `onSort(nextSort)` is called when a header is clicked; `rowAttrs(row)` gives each tr's
 * attributes; `after(row)` may return an extra row to show under a row (a form, a note). */
export function renderTable(table, { columns, rows, sort, onSort, rowAttrs = () => ({}), after = () => null }) {
  const head = make("tr", null, ...columns.map((c) => {
    const sortable = c.sortable !== false;
    const state = ariaSort(sort, c.key);
    const arrow = state === "ascending" ? "▲" : state === "descending" ? "▼" : "";
    return make("th", {
      scope: "col", class: c.numeric ? "num" : null, "aria-sort": sortable ? state : null,
      dataset: { key: c.key }, title: c.title || null,
    }, sortable
      ? make("button", { type: "button", class: "sort", onclick: () => onSort(nextSort(sort, c.key, columns)) },
        c.label, make("span", { class: "sort-arrow", "aria-hidden": "true" }, arrow))
      : c.label);
  }));
  const body = [];
  for (const row of sortRows(rows, columns, sort)) {
    body.push(make("tr", rowAttrs(row), ...columns.map((c) => {
      const content = c.cell ? c.cell(row) : c.value(row);
      return make(c.key === columns[0].key ? "th" : "td",
        { class: c.numeric ? "num" : null, scope: c.key === columns[0].key ? "row" : null, dataset: { key: c.key } },
        missing(content) ? "–" : content);
    })));
    const extra = after(row);
    if (extra) body.push(extra);
  }
  table.replaceChildren(make("thead", null, head), make("tbody", null, ...body));
}
