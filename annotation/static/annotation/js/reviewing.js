/* What the review page knows without the DOM: responses numbered as on screen, rankings
 * told as tiers of those numbers, and the bodies of POST /items/{id}/review/. */

import { ordinal } from "./text.js";

export const METHODS = [
  { value: "majority", label: "Majority" },
  { value: "bradley_terry", label: "Bradley–Terry" },
  { value: "dawid_skene", label: "Dawid–Skene" },
];

export const DECISIONS = ["accept", "rank", "gold", "exclude"];

export function methodLabel(method) {
  const found = METHODS.find((m) => m.value === method);
  return found ? found.label : String(method);
}

/* The item's responses in import order, numbered 1, 2, … as the cards show them. */
export function numbered(responses) {
  return [...(responses || [])]
    .sort((a, b) => (a.position ?? 0) - (b.position ?? 0) || a.id - b.id)
    .map((r, i) => ({ id: r.id, text: r.text, model: r.model || "", num: i + 1 }));
}

/* One line of a response, whitespace collapsed, cut at `max` characters. */
export function snippet(text, max = 60) {
  const line = String(text == null ? "" : text).replace(/\s+/g, " ").trim();
  if (!line) return "(empty)";
  return line.length <= max ? line : `${line.slice(0, max - 1).trimEnd()}…`;
}

/* A ranking as rows to draw: [{place, label ("1st"), tie, members: [{id, num, snippet}]}].
 * An id the item does not have (a response since removed) keeps a row, with num null. */
export function tierRows(tiers, responses, { max = 60 } = {}) {
  const byId = new Map(responses.map((r) => [r.id, r]));
  return (Array.isArray(tiers) ? tiers : []).map((tier, i) => ({
    place: i + 1,
    label: ordinal(i + 1),
    tie: tier.length > 1,
    members: tier.map((id) => {
      const r = byId.get(id);
      return { id, num: r ? r.num : null, snippet: r ? snippet(r.text, max) : "(unknown response)" };
    }),
  }));
}

/* Two rankings are the same when their tiers hold the same responses in the same order
 * (the order inside a tie does not count). */
export function sameRanking(a, b) {
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  const key = (tier) => [...tier].sort((x, y) => x - y).join(",");
  return a.every((tier, i) => key(tier) === key(b[i]));
}

/* The body of a review decision; throws if a decision lacks what it needs, so that a page
 * bug shows as an error rather than as a 400 from the server. */
export function decisionBody(decision, { annotation = null, ranking = null, note = "" } = {}) {
  if (!DECISIONS.includes(decision)) throw new Error(`Unknown decision: ${decision}`);
  const body = { decision };
  if (decision === "accept" || decision === "exclude") {
    if (!Number.isInteger(annotation)) throw new Error(`"${decision}" needs the label it is about.`);
    body.annotation = annotation;
  } else {
    if (!Array.isArray(ranking) || !ranking.length) throw new Error(`"${decision}" needs a ranking.`);
    body.ranking = ranking.map((tier) => tier.slice());
  }
  const text = String(note || "").trim();
  if (text) body.note = text;
  return body;
}

/* Who made a label: the annotator, or where it came from when no person did. */
export function labelAuthor(label) {
  if (label.username) return label.username;
  return label.source && label.source !== "human" ? `${label.source} label` : "unknown";
}

/* Rankings a reviewer may promote to gold: the consensus, each label that counts, and
 * their own when it is complete. [{value, label, ranking}], nothing listed twice. */
export function goldChoices(item, mine = null) {
  const out = [];
  const add = (value, label, ranking) => {
    if (!Array.isArray(ranking) || !ranking.length) return;
    const twin = out.find((c) => sameRanking(c.ranking, ranking));
    if (twin) twin.label += `, ${label}`;
    else out.push({ value, label, ranking });
  };
  if (mine) add("mine", "My ranking", mine);
  if (item.consensus) add("consensus", `Consensus (${methodLabel(item.consensus.method)})`, item.consensus.ranking);
  for (const label of item.labels || []) {
    if (!label.excluded) add(`label-${label.id}`, `${labelAuthor(label)}'s ranking`, label.ranking);
  }
  return out;
}

export const DECISION_WORDS = {
  accept: "accepted a label",
  rank: "entered a ranking",
  gold: "promoted to gold",
  exclude: "excluded a label",
};

/* What the page says after a decision went through. */
export function decisionMessage(body, { itemId, labels = [] } = {}) {
  const who = (id) => {
    const label = labels.find((l) => l.id === id);
    return label ? labelAuthor(label) : `label ${id}`;
  };
  switch (body.decision) {
    case "accept": return `Item ${itemId}: accepted ${who(body.annotation)}'s ranking as the consensus.`;
    case "exclude": return `Item ${itemId}: excluded ${who(body.annotation)}'s label from the consensus.`;
    case "rank": return `Item ${itemId}: your ranking is now the consensus.`;
    default: return `Item ${itemId} is now a gold item.`;
  }
}
