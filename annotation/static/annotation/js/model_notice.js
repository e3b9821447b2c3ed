/* "A new reward model is live": tells an annotator, while they work, that the model whose
 * feedback they see has just been replaced by a newer one.
 *
 * The page remembers (per browser tab, in sessionStorage) the version it last saw, reads
 * the active one once when it opens and again from every feedback answer, and shows the
 * notice when the two differ. There is no polling: a submit is the only moment the news
 * matters. Opening the page also makes the server load the model ahead of the first
 * feedback. */

import { make } from "./dom.js";

export function activeModelUrl(projectId) {
  return `/api/v1/projects/${encodeURIComponent(projectId)}/reward-models/active/`;
}

/* What the page knows of a model answer: {version, name, activatedAt, trainedOn}. */
export function modelOf(data) {
  if (!data || typeof data !== "object" || !("model_version" in data)) return null;
  return {
    version: Number.isInteger(data.version) ? data.version : null,
    name: data.model_version || null,
    activatedAt: data.activated_at || null,
    trainedOn: Number.isInteger(data.trained_on) ? data.trained_on : null,
  };
}

/* Whether `now` is news against `seen` (null: nothing seen yet, never news). */
export function isNewModel(seen, now) {
  if (!seen || !now || now.version === null) return false;
  return seen.version !== now.version;
}

export function noticeText(model, { locale, timeZone } = {}) {
  const parts = [`A new reward model ${model.name} is live`];
  const facts = [];
  if (model.trainedOn !== null) facts.push(`trained on ${model.trainedOn} label${model.trainedOn === 1 ? "" : "s"}`);
  const at = model.activatedAt ? new Date(model.activatedAt) : null;
  if (at && !Number.isNaN(at.getTime())) {
    facts.push(`since ${at.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit", timeZone })}`);
  }
  return `${parts[0]}${facts.length ? `: ${facts.join(", ")}` : ""}. The feedback on your next labels comes from it.`;
}

/* `element` is the notice's box; `get` is api.get. Returns {saw(data)}: hand it every
 * answer that names the active model. */
export function watchRewardModel({ element, projectId, get, storage = globalThis.sessionStorage }) {
  const key = `rankwise:reward-model:${projectId}`;
  const load = () => {
    try {
      return JSON.parse(storage.getItem(key) || "null");
    } catch (_) {
      return null;
    }
  };
  const store = (model) => {
    try {
      storage.setItem(key, JSON.stringify(model));
    } catch (_) { /* private mode: the notice shows at most once per page then */ }
  };
  let seen = load();

  function saw(data) {
    const now = modelOf(data);
    if (!now) return;
    if (isNewModel(seen, now)) show(now);
    seen = now;
    store(now);
  }

  function show(model) {
    element.replaceChildren(
      make("span", { class: "model-notice-text" }, noticeText(model)),
      make("button", {
        type: "button", class: "icon-button", "aria-label": "Dismiss",
        onclick: () => { element.hidden = true; },
      }, "×"));
    element.dataset.version = String(model.version);
    element.hidden = false;
  }

  get(activeModelUrl(projectId)).then((res) => saw(res.data)).catch(() => {});
  return { saw };
}
