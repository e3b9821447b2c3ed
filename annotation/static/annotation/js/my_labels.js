/* The annotator's own labels (GET /projects/{id}/my-labels/), newest first, a page at a
 * time, each with a link that opens it again in the ranking page to change it. */

import { ApiError, createApi } from "./api.js";
import { make } from "./dom.js";
import { flagLine, labelSummary, rankingLine } from "./history_text.js";

const config = JSON.parse(document.getElementById("my-labels-config").textContent);
const $ = (id) => document.getElementById(id);
const el = {
  list: $("labels-list"), summary: $("labels-summary"), notice: $("labels-notice"),
  error: $("labels-error"), previous: $("labels-previous"), next: $("labels-next"),
  page: $("labels-page"),
};
const api = createApi();
let page = Number(new URLSearchParams(window.location.search).get("page")) || 1;

function entry(label) {
  const when = new Date(label.submitted_at);
  const title = `Item ${label.item.id}`;
  const pills = [
    label.superseded ? make("span", { class: "pill muted" }, "Replaced by a later version") : null,
    label.revises ? make("span", { class: "pill" }, "Changed") : null,
    label.is_practice ? make("span", { class: "pill" }, "Practice") : null,
  ];
  const flags = flagLine(label);
  const action = label.revisable
    ? make("a", {
      class: "button", href: `${config.urls.annotate}?revise=${encodeURIComponent(label.id)}`,
      "aria-label": `Change your label of item ${label.item.id}`,
    }, "Change")
    : make("p", { class: "muted small" }, label.not_revisable_because || "");
  return make("li", { class: label.superseded ? "card label-entry is-superseded" : "card label-entry", dataset: { label: String(label.id) } },
    make("div", { class: "label-head" },
      make("h2", null, title),
      make("span", { class: "muted small" }, Number.isNaN(when.getTime()) ? "" : when.toLocaleString()),
      ...pills),
    make("p", { class: "label-excerpt" }, label.item.excerpt || "(no prompt text)"),
    make("p", { class: "label-ranking" }, make("span", { class: "muted" }, "Your ranking: "), rankingLine(label)),
    flags ? make("p", { class: "small" }, make("span", { class: "muted" }, "Flags: "), flags) : null,
    label.why ? make("p", { class: "small" }, make("span", { class: "muted" }, "Why: "), label.why) : null,
    make("div", { class: "card-actions" }, action));
}

async function load() {
  el.error.hidden = true;
  let res;
  try {
    res = await api.get(`${config.urls.list}?page=${page}`);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    el.error.textContent = err.network ? "The server could not be reached." : err.message;
    el.error.hidden = false;
    el.summary.textContent = "";
    return;
  }
  const data = res.data;
  page = data.page;
  el.summary.textContent = labelSummary(data);
  el.list.replaceChildren(...data.results.map(entry));
  el.previous.hidden = page <= 1;
  el.next.hidden = page >= data.pages;
  el.page.textContent = data.pages > 1 ? `Page ${page} of ${data.pages}` : "";
}

el.previous.addEventListener("click", () => { page -= 1; load(); });
el.next.addEventListener("click", () => { page += 1; load(); });
const revised = new URLSearchParams(window.location.search).get("revised");
if (revised) {
  el.notice.textContent = "Your label was changed. The new version is the one that counts.";
  el.notice.hidden = false;
}
load();
