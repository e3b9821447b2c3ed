/* The task on screen: the conversation, one card per response, and the ranking tray. */

import { make, renderText } from "./dom.js";
import { flagControl } from "./responseflags.js";
import { conversationOf, ordinal, roleClass, roleLabel } from "./text.js";

export function renderConversation(container, item) {
  container.replaceChildren(...conversationOf(item).map((turn) => make("div",
    { class: `turn ${roleClass(turn.role)}` },
    make("div", { class: "turn-role" }, roleLabel(turn.role)),
    make("div", { class: "turn-text" }, renderText(turn.content)),
  )));
}

/* The characters Python's str.isspace() accepts, so that the page calls blank exactly the
 * responses the import counted as empty (JavaScript's \s differs: it has U+FEFF, lacks
 * U+001C..U+001F and U+0085). */
const BLANK = /^[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$/;

/* A response with no visible text (a model that answered nothing) still needs a card that
 * can be seen and ranked. null for a response with text; otherwise what stands in for it:
 * `label` is shown (styled apart from response text, so a response that literally says
 * "(empty response)" is not mistaken for one), `description` is what a screen reader hears.
 * The response itself is never changed: a ranking names response ids, not texts. */
export function blankResponse(text, num) {
  const value = text == null ? "" : String(text);
  if (!BLANK.test(value)) return null;
  if (!value) {
    return { kind: "empty", label: "(empty response)",
      description: `Response ${num} is empty: the model gave no text.` };
  }
  const n = [...value].length;
  const chars = `${n} character${n === 1 ? "" : "s"}`;
  return { kind: "whitespace", label: `(whitespace only: ${chars})`,
    description: `Response ${num} is only whitespace (${chars}): the model gave no visible text.` };
}

function responseBody(r, blank) {
  if (!blank) return make("div", { class: "response-body" }, renderText(r.text));
  return make("div", { class: "response-body is-blank", dataset: { blank: blank.kind } },
    make("p", { class: "blank-note", "aria-hidden": "true" }, blank.label),
    make("p", { class: "visually-hidden", id: `response-blank-${r.num}` }, blank.description));
}

/* `flags`: the project's flags, offered per response by a "Flag" control (none: no control). */
export function responseCard(r, { flags = [] } = {}) {
  const blank = blankResponse(r.text, r.num);
  return make("article", {
    class: blank ? "response-card is-blank" : "response-card", role: "listitem",
    "aria-labelledby": `response-title-${r.num}`,
    "aria-describedby": blank ? `response-blank-${r.num}` : null,
    dataset: { responseId: String(r.id), num: String(r.num) },
  },
  make("header", { class: "response-head", dataset: { drag: String(r.id) }, title: "Drag into the ranking" },
    make("span", { class: "grip", "aria-hidden": "true" }, "⠿"),
    make("h3", { id: `response-title-${r.num}` }, "Response ", make("kbd", null, String(r.num))),
    make("span", { class: "rank-badge", hidden: true })),
  responseBody(r, blank),
  make("footer", { class: "response-actions" },
    make("button", { type: "button", class: "small", dataset: { action: "next", id: String(r.id) } }, "Rank next"),
    make("button", { type: "button", class: "small", dataset: { action: "tie", id: String(r.id) } }, "Tie"),
    make("button", { type: "button", class: "small", dataset: { action: "remove", id: String(r.id) } }, "Unrank"),
    flagControl(r, flags)));
}

/* Cards, tray and buttons for the ranking as it stands. `el` holds the page's elements. */
export function renderRanking(el, { ranking, responses, busy }) {
  const { tiers, complete } = ranking;
  for (const card of el.pool.children) {
    const t = ranking.tierOf(Number(card.dataset.responseId));
    const badge = card.querySelector(".rank-badge");
    card.classList.toggle("is-ranked", t >= 0);
    card.classList.toggle("is-top", t === 0);
    badge.hidden = t < 0;
    badge.textContent = t < 0 ? "" : `${tiers[t].length > 1 ? "Tied " : ""}${ordinal(t + 1)}`;
    const num = card.dataset.num;
    const [nextButton, tieButton, removeButton] = card.querySelectorAll(".response-actions > button");
    nextButton.hidden = t >= 0;
    nextButton.setAttribute("aria-label", `Put response ${num} in place ${tiers.length + 1}`);
    tieButton.hidden = t >= 0 || !tiers.length;
    tieButton.textContent = `Tie with ${ordinal(tiers.length)}`;
    tieButton.setAttribute("aria-label", `Tie response ${num} with place ${tiers.length}`);
    removeButton.hidden = t < 0;
    removeButton.setAttribute("aria-label", `Take response ${num} out of the ranking`);
  }

  const numOf = (id) => responses.find((r) => r.id === id).num;
  const rows = [];
  tiers.forEach((tier, i) => {
    rows.push(gapSlot(i, { next: false, complete }));
    rows.push(make("li", { class: i === 0 ? "tier first" : "tier", dataset: { drop: "tier", index: String(i) } },
      make("span", { class: "tier-label" }, ordinal(i + 1)),
      make("span", { class: "chips" }, ...tier.map((id) => chip(id, numOf(id)))),
      tier.length > 1 ? make("span", { class: "tie-mark" }, "tie") : null));
  });
  rows.push(gapSlot(tiers.length, { next: true, complete }));
  el.tiers.replaceChildren(...rows);

  el.undo.disabled = !ranking.canUndo;
  el.tie.disabled = !tiers.length || complete;
  el.submit.disabled = !complete || busy;
  el.submit.textContent = complete ? "Submit" : `Submit (${ranking.left} left)`;
  const strengthOpen = ranking.size === 2;
  el.strength.hidden = !strengthOpen;
  el.strength.disabled = strengthOpen && complete && ranking.hasTie;
}

export function renderTieNext(el, { on, tierCount }) {
  el.tie.setAttribute("aria-pressed", String(on));
  el.tieHint.hidden = !on;
  el.tieHint.textContent = on ? `Tie: your next pick joins the ${ordinal(tierCount)} place` : "";
}

/* The drop gaps between tiers; the last one is where the next pick goes. */
function gapSlot(index, { next, complete }) {
  const label = !next ? [] : complete
    ? ["All ranked", make("span", { class: "kbd-hint" }, ": press Enter to submit")]
    : [`Drop here for ${ordinal(index + 1)} place`, make("span", { class: "kbd-hint" }, ", or press a number")];
  return make("li", {
    class: next ? `gap next-slot${complete ? " complete" : ""}` : "gap", "aria-hidden": next ? null : "true",
    dataset: { drop: "gap", index: String(index) },
  }, ...label);
}

function chip(id, num) {
  return make("span", { class: "chip", dataset: { drag: String(id) }, title: "Drag to move" },
    `Response ${num}`,
    make("button", {
      type: "button", class: "chip-remove", "aria-label": `Take response ${num} out of the ranking`,
      dataset: { action: "remove", id: String(id) },
    }, "×"));
}
