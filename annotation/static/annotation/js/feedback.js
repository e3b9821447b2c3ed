/* "Watch it learn": after a submit, the label as given, the practice verdict, and what one
 * learning step on the label did to the reward model's scores.
 *
 * The panel stays with the item it is about while the next task is shown: it is titled
 * with that item's prompt and names responses by what they say, not by the numbers the
 * next task reuses. Only the latest submit's answer is drawn: an answer for an older
 * label that arrives late is dropped (each panel gets a sequence number). */

import { make } from "./dom.js";
import { conversationOf, ordinal } from "./text.js";

export const EXCERPT_CHARS = 40;
const SLOW_MS = 2500; // past this, a pending answer says why it takes long

/* A text's first `limit` characters on one line, with an ellipsis when cut. */
export function excerpt(text, limit = EXCERPT_CHARS) {
  const flat = String(text == null ? "" : text).split(/\s+/).filter(Boolean).join(" ");
  return flat.length <= limit ? flat : `${flat.slice(0, limit - 1).replace(/[\s,;:]+$/, "")}…`;
}

/* The text a task's prompt is known by: its prompt, or the last user turn of a chat. */
export function taskPrompt(item) {
  const turns = conversationOf(item || {});
  const users = turns.filter((t) => ["user", "human"].includes(t.role.toLowerCase()));
  const turn = users.length ? users[users.length - 1] : turns[turns.length - 1];
  return turn && turn.content != null ? String(turn.content) : "";
}

/* Bar widths in percent over the scores' range; the lowest still gets a sliver of 8%. */
export function scoreScale(values) {
  const finite = values.map(Number).filter(Number.isFinite);
  const lo = finite.length ? Math.min(...finite) : 0;
  const hi = finite.length ? Math.max(...finite) : 0;
  const span = hi - lo || 1;
  return (v) => `${(8 + 92 * ((v - lo) / span)).toFixed(1)}%`;
}

/* One row per scored response, in the annotator's order. */
export function scoreRows(responses, tiers, scores) {
  const byId = new Map(scores.map((s) => [s.id, s]));
  const width = scoreScale(scores.flatMap((s) => [s.before, s.after]));
  const rows = [];
  tiers.forEach((tier, t) => tier.forEach((id) => {
    const r = responses.find((x) => x.id === id);
    const s = byId.get(id);
    if (!r || !s) return;
    const before = Number(s.before);
    const after = Number(s.after);
    const delta = after - before;
    const trend = delta > 0.005 ? "up" : delta < -0.005 ? "down" : "";
    const text = r.text != null ? String(r.text) : String(s.excerpt || "");
    rows.push({
      num: r.num, top: t === 0, before, after, trend, text,
      excerpt: r.text != null ? excerpt(r.text) : String(s.excerpt || ""),
      arrow: { up: "▲", down: "▼", "": "■" }[trend],
      beforeWidth: width(before), afterWidth: width(after),
      label: `Response ${r.num}, your ${ordinal(t + 1)}: score ${before.toFixed(2)} before, ${after.toFixed(2)} after`,
    });
  }));
  return rows;
}

/* For a practice item with a known answer: whether the label matched it, and how far the
 * annotator is from qualifying. Null for anything else. */
export function practiceVerdict(isPractice, result) {
  const practice = result.practice || {};
  const expected = practice.gold_ranking || result.correct_ranking;
  if (!isPractice || !Array.isArray(expected)) return null;
  const correct = Boolean(practice.correct !== undefined ? practice.correct : result.correct);
  let progress = null;
  if (practice.required) {
    progress = practice.qualified
      ? "Practice passed: real tasks are open to you now."
      : `Practice: ${practice.answered_correctly} of ${practice.answered} right so far; ` +
        `you need ${Math.round(100 * practice.min_accuracy)}% of your last ${practice.required}.`;
  }
  return { correct, expected, progress };
}

/* A ranking told by excerpts of the responses, each with its full text as a tooltip. */
function rankingExcerpts(responses, tiers) {
  const out = make("span", { class: "ranking-excerpts" });
  tiers.forEach((tier, t) => {
    if (t) out.append(make("span", { class: "rank-sep", "aria-label": "better than" }, " ≻ "));
    tier.forEach((id, i) => {
      if (i) out.append(make("span", { class: "rank-sep", "aria-label": "tied with" }, " = "));
      const r = responses.find((x) => x.id === id);
      out.append(make("q", { class: "excerpt", title: r ? r.text : null }, r ? excerpt(r.text) : `response ${id}`));
    });
  });
  return out;
}

const sequence = new WeakMap(); // panel -> the number of its latest showFeedback

/* `get` fetches the feedback URL: api.get, resolving to {status, data} or throwing.
 * `onAnswer(data)` hears every feedback answer, late ones too (the active model's version
 * is news whichever label it came with). */
export function showFeedback(panel, { task, ranking }, result, get, { onAnswer, now = () => performance.now() } = {}) {
  const seq = (sequence.get(panel) || 0) + 1;
  sequence.set(panel, seq);
  const body = make("div", { class: "feedback-body" }, make("p", { class: "muted" }, "Asking the reward model…"));
  const prompt = task.prompt || "";
  panel.dataset.item = String(task.itemId);
  panel.dataset.state = "pending";
  panel.dataset.askedAt = String(now());
  delete panel.dataset.answeredAt;
  panel.replaceChildren(
    make("div", { class: "feedback-head" },
      make("h2", null, "Your label for ",
        prompt ? make("q", { class: "excerpt", title: prompt }, excerpt(prompt)) : `item ${task.itemId}`),
      make("button", {
        type: "button", class: "icon-button", "aria-label": "Hide feedback",
        onclick: () => { panel.hidden = true; },
      }, "×")),
    make("p", { class: "ranking-line" }, "You ranked: ", rankingExcerpts(task.responses, ranking)),
  );
  const verdict = practiceVerdict(task.isPractice, result);
  panel.classList.toggle("wrong", Boolean(verdict && !verdict.correct));
  if (verdict) {
    panel.append(make("p", { class: verdict.correct ? "verdict ok" : "verdict wrong" },
      verdict.correct ? "✓ Correct: that matches the expected ranking." : "✗ Not quite. Expected: ",
      verdict.correct ? null : rankingExcerpts(task.responses, verdict.expected)));
    if (verdict.progress) panel.append(make("p", { class: "muted practice-score" }, verdict.progress));
  }
  panel.append(body);
  panel.hidden = false;
  const settle = (state, ...content) => {
    if (sequence.get(panel) !== seq) return; // a newer label has the panel now
    body.replaceChildren(...content);
    panel.dataset.state = state;
    panel.dataset.answeredAt = String(now());
  };
  if (!result.feedback_url) {
    settle("no-model", noModelYet());
    return;
  }
  const unavailable = () => make("p", { class: "muted" }, "The reward model's view could not be loaded.");
  setTimeout(() => {
    if (sequence.get(panel) !== seq || panel.dataset.state !== "pending") return;
    body.append(make("p", { class: "muted small slow-note" },
      "The server is still loading the reward model: the first answer takes a few seconds."));
  }, SLOW_MS);
  get(result.feedback_url).then((res) => {
    const data = res.data;
    if (res.status === 200 && data && onAnswer) onAnswer(data);
    if (res.status === 200 && data && data.model_version && Array.isArray(data.responses)) {
      settle("answered", scoreChart(task, ranking, data));
    } else if (res.status === 200 && data && !data.model_version) {
      settle("no-model", noModelYet());
    } else {
      settle("failed", unavailable());
    }
  }).catch((err) => {
    if (err && err.status === 404) settle("no-model", noModelYet());
    else settle("failed", unavailable());
  });
}

function noModelYet() {
  return make("p", { class: "no-model" }, "No reward model yet: your labels will train the first one.");
}

/* A faint bar for the score before this label, a solid one for after, and the change. */
function scoreChart(task, ranking, data) {
  const rows = scoreRows(task.responses, ranking, data.responses);
  if (!rows.length) {
    return make("p", { class: "muted" }, `Reward model ${data.model_version} has no scores for these responses yet.`);
  }
  return make("div", null,
    make("p", { class: "muted small" }, `Reward model ${data.model_version}: each response's score before → after one learning step on your label.`),
    make("ol", { class: "score-chart" }, ...rows.map((row) => make("li", {
      class: row.top ? "score-row top" : "score-row", "aria-label": row.label,
    },
    make("span", { class: "score-label", title: row.text },
      make("span", { class: "score-num" }, `#${row.num}`),
      make("span", { class: "score-excerpt" }, row.excerpt),
      row.top ? make("span", { class: "top-tag" }, "your best") : null),
    make("span", { class: "score-track", "aria-hidden": "true" },
      make("span", { class: "bar before", style: `width:${row.beforeWidth}` }),
      make("span", { class: "bar after", style: `width:${row.afterWidth}` })),
    make("span", { class: `score-delta ${row.trend}` }, `${row.before.toFixed(2)} → ${row.after.toFixed(2)} ${row.arrow}`)))),
    make("p", { class: "legend muted small" },
      make("span", { class: "swatch before" }), " before ", make("span", { class: "swatch after" }), " after"));
}
