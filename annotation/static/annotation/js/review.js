/* The review page: the queue on the left, the chosen item on the right with every label,
 * the consensus by the method chosen, and the reviewer's decisions. "Enter my own ranking"
 * is the ranking page's widget (Ranking, response cards, tray, drag and keys). */

import { ApiError, createApi } from "./api.js";
import { make } from "./dom.js";
import { bindDragAndDrop } from "./drag.js";
import { bindKeyboard } from "./keyboard.js";
import { Ranking } from "./ranking.js";
import { renderConversation, renderRanking, renderTieNext, responseCard } from "./render.js";
import {
  decisionBody, decisionMessage, goldChoices, labelAuthor, methodLabel, numbered, sameRanking,
  snippet, tierRows,
} from "./reviewing.js";
import { percent, reasonLabel, seconds } from "./figures.js";
import { ordinal, rankingAnnouncement } from "./text.js";

const $ = (id) => document.getElementById(id);
const config = JSON.parse($("quality-config").textContent);
const api = createApi({ csrfCookie: config.csrfCookie || "csrftoken" });
const root = $("review");
const el = {
  queue: $("queue"), queueCount: $("queue-count"), queueEmpty: $("queue-empty"), queueMore: $("queue-more"),
  hint: $("pick-hint"), loading: $("item-loading"), item: $("item"), title: $("item-title"),
  badges: $("item-badges"), meta: $("item-meta"), conversation: $("conversation"), gold: $("gold-line"),
  pool: $("pool"), method: $("method"), consensus: $("consensus"), labels: $("labels"),
  note: $("note"), rankOwn: $("rank-own"), goldSource: $("gold-source"), promote: $("promote"),
  editor: $("editor"), tiers: $("tiers"), tieHint: $("tie-hint"), strength: $("strength"),
  undo: $("undo"), tie: $("tie"), cancel: $("cancel-own"), submit: $("submit"), reviews: $("reviews"),
  notice: $("notice"), error: $("error"), announce: $("announce"),
};

const state = {
  queue: [],
  next: null,          // the URL of the queue's next page
  count: 0,
  itemId: null,
  item: null,
  responses: [],       // numbered as the cards show them
  method: config.consensus,
  ranking: null,       // the reviewer's own Ranking while the editor is open
  tieNext: false,
  busy: false,
};

const url = (template, id) => template.replace("{id}", encodeURIComponent(id));

// ---------------------------------------------------------------- messages

function showNotice(message) {
  el.notice.textContent = message;
  el.notice.hidden = !message;
}

function showError(err) {
  if (!err) {
    el.error.replaceChildren();
    el.error.hidden = true;
    return;
  }
  if (!(err instanceof ApiError)) throw err;
  const message = err.network ? "The server could not be reached. Try again." : err.message;
  el.error.replaceChildren(make("strong", null, message),
    err.problems.length ? make("ul", null, ...err.problems.map((p) => make("li", null, p))) : null);
  el.error.hidden = false;
}

// ---------------------------------------------------------------- the queue

function queueEntry(entry) {
  const current = entry.item === state.itemId;
  return make("li", { dataset: { item: String(entry.item) } },
    make("button", {
      type: "button", class: "queue-entry", "aria-current": current ? "true" : null,
      onclick: () => select(entry.item, { focus: true }),
    },
    make("span", { class: "queue-line" }, make("strong", null, `Item ${entry.item}`),
      make("span", { class: "muted small" }, `${entry.n_labels} label${entry.n_labels === 1 ? "" : "s"}` +
        (entry.agreement != null ? ` · ${percent(entry.agreement)} agree` : ""))),
    make("span", { class: "queue-prompt" }, snippet(entry.prompt, 90)),
    make("span", { class: "badges" }, ...(entry.reasons || []).map((r) => make("span", { class: `badge reason ${r}` }, reasonLabel(r))))));
}

function renderQueue() {
  el.queue.replaceChildren(...state.queue.map(queueEntry));
  el.queueCount.textContent = String(state.count);
  el.queueEmpty.hidden = state.queue.length > 0;
  el.queueMore.hidden = !state.next;
}

async function loadQueue({ more = false } = {}) {
  try {
    const { data } = await api.get(more && state.next ? state.next : config.urls.reviewQueue);
    state.queue = more ? [...state.queue, ...data.results] : data.results;
    state.next = data.next;
    state.count = data.count;
    renderQueue();
  } catch (err) {
    showError(err);
  }
}

// ---------------------------------------------------------------- the item

function tierList(tiers, { className = "mini-tiers" } = {}) {
  return make("ol", { class: className },
    ...tierRows(tiers, state.responses).map((row) => make("li", { class: row.place === 1 ? "mini-tier first" : "mini-tier" },
      make("span", { class: "tier-label" }, row.label),
      make("span", { class: "tier-members" }, ...row.members.flatMap((m, i) => [
        i ? make("span", { class: "tie-sign", "aria-label": "tied with" }, "=") : null,
        make("span", { class: "member", title: m.snippet }, make("b", null, m.num ? `#${m.num}` : "?"), ` ${m.snippet}`),
      ])))));
}

function renderConsensus() {
  const c = state.item.consensus;
  if (!c) {
    el.consensus.replaceChildren(make("p", { class: "muted" }, "No consensus yet: the item has no counted labels."));
    return;
  }
  el.consensus.replaceChildren(
    make("p", { class: "consensus-meta" },
      make("span", { class: `badge source ${c.source}` }, c.source === "review" ? "decided by review" : "from labels"),
      ` ${methodLabel(c.method)} · confidence ${percent(c.confidence)}` +
      (c.agreement != null ? ` · ${percent(c.agreement)} of pair votes agree` : "") +
      ` · ${c.n_labels} label${c.n_labels === 1 ? "" : "s"}`),
    tierList(c.ranking, { className: "mini-tiers consensus-ranking" }));
  el.consensus.dataset.source = c.source;
  el.consensus.dataset.ranking = JSON.stringify(c.ranking);
}

function labelCard(label) {
  const consensus = state.item.consensus;
  const agrees = consensus && sameRanking(consensus.ranking, label.ranking);
  const strength = { 1: "slightly", 2: "clearly", 3: "much" }[label.strength];
  return make("li", { class: `label-card${label.excluded ? " excluded" : ""}`, dataset: { label: String(label.id), annotator: String(label.annotator ?? "") } },
    make("header", { class: "label-head" },
      make("strong", { class: "label-author" }, labelAuthor(label)),
      label.source && label.source !== "human" ? make("span", { class: "badge" }, label.source) : null,
      label.excluded ? make("span", { class: "badge excluded" }, "excluded") : null,
      agrees ? make("span", { class: "badge agrees" }, "same as consensus") : null,
      make("span", { class: "muted small" }, [label.duration_ms != null ? seconds(label.duration_ms / 1000) : null,
        label.created_at ? new Date(label.created_at).toLocaleString() : null].filter(Boolean).join(" · "))),
    tierList(label.ranking),
    strength ? make("p", { class: "small" }, `The first is ${strength} better.`) : null,
    (label.flags || []).length ? make("p", { class: "badges" }, ...label.flags.map((f) => make("span", { class: "badge flag" }, f.replace(/_/g, " ")))) : null,
    label.rationale ? make("blockquote", { class: "rationale" }, label.rationale) : null,
    make("div", { class: "label-actions" },
      make("button", { type: "button", class: "small accept", disabled: label.excluded || state.busy,
        onclick: () => decide("accept", { annotation: label.id }) }, "Accept this ranking"),
      make("button", { type: "button", class: "small exclude", disabled: label.excluded || state.busy,
        onclick: () => decide("exclude", { annotation: label.id }) }, label.excluded ? "Excluded" : "Exclude")));
}

function reviewEntry(r) {
  const who = r.reviewer || "someone";
  return make("li", null,
    make("p", null, make("strong", null, who), ` ${r.decision}`, r.created_at ? make("span", { class: "muted small" }, ` · ${new Date(r.created_at).toLocaleString()}`) : null),
    r.ranking ? tierList(r.ranking) : null,
    r.note ? make("blockquote", { class: "rationale" }, r.note) : null);
}

function renderGoldChoices() {
  const mine = state.ranking && state.ranking.complete ? state.ranking.tiers : null;
  const before = el.goldSource.value;
  const choices = goldChoices(state.item, mine);
  el.goldSource.replaceChildren(...choices.map((c) => make("option", { value: c.value }, c.label)));
  if (choices.some((c) => c.value === before)) el.goldSource.value = before;
  el.promote.disabled = !choices.length || state.busy;
  el.goldSource.disabled = !choices.length;
}

function renderItem() {
  const item = state.item;
  el.title.textContent = `Item ${item.id}`;
  const queued = state.queue.find((q) => q.item === item.id);
  el.badges.replaceChildren(...[
    ...(queued ? queued.reasons : []).map((r) => make("span", { class: `badge reason ${r}` }, reasonLabel(r))),
    item.is_gold ? make("span", { class: "badge gold" }, "gold") : null,
    item.status ? make("span", { class: "badge" }, String(item.status).replace(/_/g, " ")) : null,
  ].filter(Boolean));
  el.meta.textContent = `${item.annotations_done} label${item.annotations_done === 1 ? "" : "s"} done`;
  renderConversation(el.conversation, item);
  el.gold.hidden = !item.is_gold || !item.gold_ranking;
  if (!el.gold.hidden) el.gold.replaceChildren(make("strong", null, "Gold answer"), tierList(item.gold_ranking));
  el.method.value = state.method;
  renderConsensus();
  el.labels.replaceChildren(...(item.labels.length ? item.labels.map(labelCard) : [make("li", { class: "muted" }, "No labels yet.")]));
  el.reviews.replaceChildren(...(item.reviews.length ? item.reviews.map(reviewEntry) : [make("li", { class: "muted" }, "None yet.")]));
  renderGoldChoices();
  el.rankOwn.disabled = state.busy;
}

async function fetchItem(id) {
  const { data } = await api.get(`${url(config.urls.item, id)}?consensus=${encodeURIComponent(state.method)}`);
  return data;
}

async function select(id, { focus = false } = {}) {
  closeEditor();
  showNotice("");
  showError(null);
  state.itemId = id;
  renderQueue();
  el.hint.hidden = true;
  el.item.hidden = true;
  el.loading.hidden = false;
  const params = new URLSearchParams(window.location.search);
  params.set("item", String(id));
  window.history.replaceState(null, "", `?${params}`);
  let data;
  try {
    data = await fetchItem(id);
  } catch (err) {
    el.loading.hidden = true;
    el.hint.hidden = false;
    showError(err);
    return;
  }
  if (state.itemId !== id) return;  // another item was picked meanwhile
  state.item = data;
  state.method = data.consensus ? data.consensus.method : state.method;
  state.responses = numbered(data.responses);
  el.pool.style.setProperty("--k", String(state.responses.length));
  el.pool.replaceChildren(...state.responses.map(responseCard));
  renderItem();
  el.loading.hidden = true;
  el.item.hidden = false;
  root.dataset.item = String(id);
  root.dataset.state = "item";
  if (focus) {
    el.title.focus({ preventScroll: true });
    el.title.scrollIntoView({ block: "start" });
  }
}

/* The item again (after a decision or a change of method), keeping the page where it is. */
async function refreshItem() {
  try {
    state.item = await fetchItem(state.itemId);
    renderItem();
  } catch (err) {
    showError(err);
  }
}

el.method.addEventListener("change", () => {
  state.method = el.method.value;
  refreshItem();
});

// ---------------------------------------------------------------- decisions

async function decide(decision, details) {
  if (state.busy || !state.item) return;
  let body;
  try {
    body = decisionBody(decision, { ...details, note: el.note.value });
  } catch (problem) {
    showNotice(problem.message);
    return;
  }
  const item = state.item;
  state.busy = true;
  root.setAttribute("aria-busy", "true");
  renderItem();
  let ok = false;
  try {
    await api.post(url(config.urls.review, item.id), body);
    ok = true;
  } catch (err) {
    showError(err);
  } finally {
    state.busy = false;
    root.removeAttribute("aria-busy");
  }
  if (ok) {
    showError(null);
    showNotice(decisionMessage(body, { itemId: item.id, labels: item.labels }));
    el.note.value = "";
    if (decision === "rank") closeEditor();
    await Promise.all([refreshItem(), loadQueue()]);
    // The consensus is what a decision changes: show it (an exclusion is seen on its label).
    if (decision !== "exclude") el.consensus.closest("section").scrollIntoView({ block: "nearest" });
    root.dataset.decided = String((Number(root.dataset.decided) || 0) + 1);
  } else {
    renderItem();
  }
}

el.promote.addEventListener("click", () => {
  const choice = goldChoices(state.item, state.ranking && state.ranking.complete ? state.ranking.tiers : null)
    .find((c) => c.value === el.goldSource.value);
  if (choice) decide("gold", { ranking: choice.ranking });
});

// ---------------------------------------------------------------- my own ranking

function renderEditor() {
  if (!state.ranking) return;
  renderRanking(el, { ranking: state.ranking, responses: state.responses, busy: state.busy });
  el.strength.hidden = true;  // a reviewer's decision has no strength
  el.submit.textContent = state.ranking.complete ? "Use my ranking" : `Use my ranking (${state.ranking.left} left)`;
  setTieNext(state.tieNext);
  renderGoldChoices();
}

function setTieNext(on) {
  state.tieNext = Boolean(on) && state.ranking !== null && state.ranking.canTie;
  renderTieNext(el, { on: state.tieNext, tierCount: state.ranking ? state.ranking.tiers.length : 0 });
}

function openEditor() {
  if (!state.item || state.ranking) return;
  state.ranking = new Ranking(state.responses.map((r) => r.id));
  state.tieNext = false;
  el.item.classList.add("editing");
  el.editor.hidden = false;
  el.rankOwn.setAttribute("aria-expanded", "true");
  renderEditor();
  el.pool.scrollIntoView({ block: "start" });
}

function closeEditor() {
  state.ranking = null;
  state.tieNext = false;
  el.item.classList.remove("editing");
  el.editor.hidden = true;
  el.rankOwn.setAttribute("aria-expanded", "false");
  for (const card of el.pool.children) {
    card.classList.remove("is-ranked", "is-top");
    const badge = card.querySelector(".rank-badge");
    if (badge) badge.hidden = true;
  }
  if (state.item) renderGoldChoices();
}

function change(changed) {
  if (!changed) return;
  renderEditor();
  el.announce.textContent = rankingAnnouncement(state.responses, state.ranking.tiers);
}

function pick(id, { tie = state.tieNext } = {}) {
  const placed = state.ranking.tierOf(id);
  if (placed >= 0) {
    showNotice(`Response ${state.responses.find((r) => r.id === id).num} is already ranked ${ordinal(placed + 1)}.`);
    return;
  }
  change(state.ranking.pick(id, { tie }));
  setTieNext(false);
}

function undo() {
  if (state.ranking && state.ranking.undo()) change(true);
}

function submitOwn() {
  if (!state.ranking) return;
  if (!state.ranking.complete) {
    showNotice(`Rank every response first: ${state.ranking.left} still to place.`);
    return;
  }
  decide("rank", { ranking: state.ranking.tiers });
}

el.rankOwn.addEventListener("click", () => (state.ranking ? closeEditor() : openEditor()));
el.cancel.addEventListener("click", closeEditor);
el.undo.addEventListener("click", undo);
el.tie.addEventListener("click", () => setTieNext(!state.tieNext));
el.submit.addEventListener("click", submitOwn);
el.pool.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button || !state.ranking) return;
  const id = Number(button.dataset.id);
  if (button.dataset.action === "next") pick(id, { tie: false });
  else if (button.dataset.action === "tie") pick(id, { tie: true });
  else if (button.dataset.action === "remove") change(state.ranking.unrank(id));
});
el.tiers.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action=remove]");
  if (button && state.ranking) change(state.ranking.unrank(Number(button.dataset.id)));
});

const drag = bindDragAndDrop({
  root,
  area: el.item,
  canStart: () => Boolean(state.ranking) && !state.busy,
  label: (id) => `Response ${state.responses.find((r) => r.id === id).num}`,
  onDrop: ({ id, drop, index }) => {
    if (drop === "gap") change(state.ranking.placeAt(id, index));
    else if (drop === "tier") change(state.ranking.joinTier(id, index));
    else if (drop === "pool") change(state.ranking.unrank(id));
    setTieNext(false);
  },
});

bindKeyboard(document, {
  page: () => ({
    dialogOpen: false,
    view: state.ranking ? "task" : "reading",
    busy: state.busy,
    dragging: drag.pending(),
    size: state.ranking ? state.ranking.size : 0,
    complete: state.ranking ? state.ranking.complete : false,
    tie: state.ranking ? state.ranking.hasTie : false,
  }),
  handlers: {
    pick: (n) => {
      const response = state.responses.find((r) => r.num === n);
      if (response) pick(response.id);
    },
    tie: () => setTieNext(!state.tieNext),
    undo,
    submit: submitOwn,
    escape: () => (state.tieNext ? setTieNext(false) : closeEditor()),
  },
});

el.queueMore.addEventListener("click", () => loadQueue({ more: true }));

// ---------------------------------------------------------------- start

(async () => {
  await loadQueue();
  const wanted = Number(new URLSearchParams(window.location.search).get("item"));
  if (Number.isInteger(wanted) && wanted > 0) await select(wanted);
  else root.dataset.state = "queue";
})();

