/* Rankwise ranking page: fetches a task from the REST API, lets the annotator order the
 * responses into tiers (drag and drop, buttons or keys), submits, shows what the reward model
 * made of the label, and loads the next task without reloading the page. */

import { ApiError, IdempotencyKeys, createApi } from "./api.js";
import { elapsedMs, pauseClock, resumeClock, startClock } from "./clock.js";
import { make } from "./dom.js";
import { bindDragAndDrop } from "./drag.js";
import { showFeedback, taskPrompt } from "./feedback.js";
import { bindKeyboard } from "./keyboard.js";
import { LeaseTimer, formatDuration } from "./lease.js";
import { watchRewardModel } from "./model_notice.js";
import { watchProgress } from "./progress.js";
import { Ranking, submission } from "./ranking.js";
import { renderConversation, renderRanking, renderTieNext, responseCard } from "./render.js";
import { readResponseFlags, setResponseFlags } from "./responseflags.js";
import { reviseIdFrom, revisionNotice, revisionResume, revisionTask } from "./revise.js";
import { bindSkipDialog } from "./skip.js";
import { keepWorkAcrossLogin, keptWorkNotice } from "./session.js";
import "./tray_room.js";
import { ordinal, rankingAnnouncement } from "./text.js";

const config = JSON.parse(document.getElementById("annotate-config").textContent);
const $ = (id) => document.getElementById(id);
const root = $("annotator");
const el = {
  task: $("task"), loading: $("loading"), empty: $("empty"), blocked: $("blocked"),
  blockedDetail: $("blocked-detail"), emptySummary: $("empty-summary"),
  notice: $("notice"), error: $("error"), feedback: $("feedback"),
  progress: $("progress"), announce: $("announce"), lease: $("lease"), conversation: $("conversation"),
  reason: $("task-reason"), practice: $("practice-banner"), pool: $("pool"),
  tiers: $("tiers"), tieHint: $("tie-hint"), strength: $("strength"), flags: $("flags"),
  rationale: $("rationale"), undo: $("undo"), tie: $("tie"), skip: $("skip"),
  submit: $("submit"), skipDialog: $("skip-dialog"), skipForm: $("skip-form"),
  skipDetails: $("skip-details"), shortcuts: $("shortcuts-dialog"), taskTitle: $("task-title"),
};

const api = createApi({
  csrfCookie: config.csrfCookie || "csrftoken",
  csrfFallback: () => {
    const field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  },
});
const submitKeys = new IdempotencyKeys();
const serverProgress = watchProgress({ el: el.progress, get: api.get, url: config.urls.progress });
const rewardModel = watchRewardModel({ element: $("model-notice"), projectId: config.projectId, get: api.get });
const PROGRESS_KEY = `rankwise:progress:${config.projectId}`;
const state = {
  view: "loading",
  task: null,        // {assignment, itemId, responses: [{id, text, num}], isPractice, reason}
  ranking: null,     // a Ranking of the task's response ids
  tieNext: false,
  busy: false,
  clock: startClock(performance.now(), document.hidden),
  progress: loadProgress(),
};

const lease = new LeaseTimer(el.lease, {
  isBusy: () => state.busy,
  onWarn: (warnAt) => showNotice(
    `Less than ${formatDuration(warnAt)} left on this task: submit soon, or it goes back to the queue.`),
  onExpire: () => {
    const resume = workInHand();
    showNotice("Time ran out on this task.");
    loadNext({ resume });
  },
});

function assignmentUrl(id, action) {
  return `${config.urls.assignment.replace("{id}", encodeURIComponent(id))}${action}/`;
}

// ---------------------------------------------------------------- views and messages

function setView(view) {
  state.view = view;
  root.dataset.state = view;
  el.loading.hidden = view !== "loading";
  el.task.hidden = view !== "task";
  el.empty.hidden = view !== "empty";
  el.blocked.hidden = view !== "blocked";
  el.lease.hidden = view !== "task";
}

function showBlocked(detail) {
  setView("blocked");
  el.blockedDetail.textContent = detail;
}

function showNotice(message) {
  el.notice.textContent = message;
  el.notice.hidden = !message;
}

function clearError() {
  el.error.replaceChildren();
  el.error.hidden = true;
}

function showError(message, problems = []) {
  el.error.replaceChildren(make("strong", null, message || "Something went wrong."));
  if (problems.length) el.error.append(make("ul", null, ...problems.map((p) => make("li", null, p))));
  el.error.hidden = false;
}

function loadProgress() {
  try {
    const saved = JSON.parse(window.sessionStorage.getItem(PROGRESS_KEY) || "{}");
    return { labels: Number(saved.labels) || 0, skips: Number(saved.skips) || 0 };
  } catch (_) {
    return { labels: 0, skips: 0 };
  }
}

function renderProgress() {
  serverProgress.refresh();
  try { window.sessionStorage.setItem(PROGRESS_KEY, JSON.stringify(state.progress)); } catch (_) { /* private mode */ }
}

/* The API's refusals and network failures are shown to the annotator; anything else is a
 * bug and must not pass for one of them. */
function apiFailure(err) {
  if (!(err instanceof ApiError)) throw err;
  return err;
}

// ---------------------------------------------------------------- loading a task

async function loadNext({ keepError = false, resume = null } = {}) {
  if (!keepError) clearError();
  // A skip dialog left open would otherwise skip the task that comes next.
  skipDialog.dismiss();
  lease.stop();
  state.task = null;
  state.ranking = null;
  setView("loading");
  let res;
  try {
    res = await api.get(config.urls.next);
  } catch (err) {
    apiFailure(err);
    if (err.network) showBlocked("The server could not be reached. Check your connection and reload the page.");
    else if (err.status === 403) await handleForbidden(err.body);
    else showBlocked(err.message);
    return;
  }
  if (res.status === 200 && res.data && res.data.item) {
    showTask(res.data, res.serverNow, resume);
  } else if (res.status === 204) {
    const { labels, skips } = state.progress;
    el.emptySummary.textContent = labels || skips ? `This session: ${labels} labelled, ${skips} skipped.` : "";
    setView("empty");
  } else {
    showBlocked((res.data && res.data.detail) || `The server answered ${res.status}.`);
  }
}

/* A 403 either means "read the (new) guidelines first" — then go there and come back — or
 * something only a manager can lift (paused, must qualify), which is shown as it is. */
async function handleForbidden(body) {
  const refusal = (body && body.detail) || "You may not annotate in this project right now.";
  const code = body && body.code;
  if (code === "guideline_not_acknowledged") {
    window.location.assign(config.urls.guidelines);
    return;
  }
  if (!code) {
    try {
      const guideline = await api.get(config.urls.guidelinesApi);
      if (guideline.status === 200 && guideline.data && guideline.data.acknowledged === false) {
        window.location.assign(config.urls.guidelines);
        return;
      }
    } catch (err) {
      apiFailure(err);
    }
  }
  showBlocked(refusal);
}

function checkedFlags() {
  return Array.from(el.flags.querySelectorAll("input:checked"), (input) => input.value);
}

function chosenStrength() {
  const input = el.strength.querySelector("input:checked");
  return input ? Number(input.value) : null;
}

function setStrength(value) {
  const input = el.strength.querySelector(`input[value="${value}"]`);
  if (input) input.checked = true;
}

/* What the annotator had done on a task, to give it back if the same item returns. */
function workInHand() {
  return {
    itemId: state.task.itemId,
    responseIds: state.task.responses.map((r) => r.id).sort((a, b) => a - b),
    ranking: state.ranking.snapshot(),
    strength: chosenStrength(), rationale: el.rationale.value, flags: checkedFlags(),
    responseFlags: readResponseFlags(el.pool),
  };
}

function showTask(data, serverNow, resume) {
  const responses = (data.item.responses || []).map((r, i) => ({ id: r.id, text: r.text, num: i + 1 }));
  const ids = responses.map((r) => r.id).sort((a, b) => a - b);
  const same = Boolean(resume) && resume.itemId === data.item.id &&
    JSON.stringify(resume.responseIds) === JSON.stringify(ids);
  state.task = {
    assignment: data.assignment,
    itemId: data.item.id,
    prompt: taskPrompt(data.item),
    responses,
    isPractice: Boolean(data.is_practice),
    reason: data.reason || "",
  };
  state.ranking = new Ranking(ids, same ? resume.ranking : {});
  state.tieNext = false;
  state.busy = false;
  root.dataset.assignment = String(data.assignment);
  root.dataset.item = String(data.item.id);

  renderConversation(el.conversation, data.item);
  el.reason.textContent = `Item ${data.item.id}${state.task.reason ? ` · ${state.task.reason}` : ""}`;
  el.practice.hidden = !state.task.isPractice;
  el.pool.style.setProperty("--k", String(responses.length));
  el.pool.replaceChildren(...responses.map((r) => responseCard(r, { flags: config.flags })));

  el.strength.hidden = responses.length !== 2;
  for (const input of el.strength.querySelectorAll("input")) input.checked = false;
  for (const input of el.flags.querySelectorAll("input")) input.checked = same && resume.flags.includes(input.value);
  setResponseFlags(el.pool, same && resume.responseFlags ? resume.responseFlags : {});
  el.rationale.value = same ? resume.rationale : "";
  if (same && resume.strength) setStrength(resume.strength);
  if (resume) {
    showNotice(same
      ? "Time ran out on this task, but nobody else had taken it: it is yours again with a fresh timer. Your ranking so far is kept; the responses may be in a new order."
      : "Time ran out on that task, so it went back to the queue. Here is the next one.");
  }

  setView("task");
  render();
  // A task that comes back keeps counting on the clock it had.
  if (!same) state.clock = startClock(performance.now(), document.hidden);
  if (!state.revising) lease.start(data.lease_expires_at, serverNow);
  el.taskTitle.textContent = `Task: item ${data.item.id}`;
  window.scrollTo({ top: 0 });
  el.taskTitle.focus({ preventScroll: true });
}

// ---------------------------------------------------------------- changing the ranking

function render() {
  renderRanking(el, { ranking: state.ranking, responses: state.task.responses, busy: state.busy });
  setTieNext(state.tieNext);
}

function setTieNext(on) {
  state.tieNext = Boolean(on) && state.ranking !== null && state.ranking.canTie;
  renderTieNext(el, { on: state.tieNext, tierCount: state.ranking ? state.ranking.tiers.length : 0 });
}

function announceRanking() {
  el.announce.textContent = rankingAnnouncement(state.task.responses, state.ranking.tiers);
}

/* Runs one change of the ranking; redraws only if it changed anything. */
function change(changed) {
  if (!changed) return;
  clearError();
  render();
  announceRanking();
}

function numOf(id) {
  return state.task.responses.find((r) => r.id === id).num;
}

function pick(id, { tie = state.tieNext } = {}) {
  const placed = state.ranking.tierOf(id);
  if (placed >= 0) {
    showNotice(`Response ${numOf(id)} is already ranked ${ordinal(placed + 1)}. Press U to undo.`);
    return;
  }
  showNotice("");
  change(state.ranking.pick(id, { tie }));
  setTieNext(false);
}

function unrank(id) {
  change(state.ranking.unrank(id));
}

function undo() {
  if (!state.ranking.undo()) return;
  setTieNext(false);
  render();
  announceRanking();
}

el.task.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button || !state.task) return;
  const id = Number(button.dataset.id);
  if (button.dataset.action === "next") pick(id, { tie: false });
  else if (button.dataset.action === "tie") pick(id, { tie: true });
  else if (button.dataset.action === "remove") unrank(id);
});
el.undo.addEventListener("click", undo);
el.tie.addEventListener("click", () => setTieNext(!state.tieNext));

const drag = bindDragAndDrop({
  root,
  area: el.task,
  canStart: () => Boolean(state.task) && !state.busy,
  label: (id) => `Response ${numOf(id)}`,
  onDrop: ({ id, drop, index }) => {
    if (drop === "gap") change(state.ranking.placeAt(id, index));
    else if (drop === "tier") change(state.ranking.joinTier(id, index));
    else if (drop === "pool") unrank(id);
    setTieNext(false);
  },
});

// ---------------------------------------------------------------- time on task

document.addEventListener("visibilitychange", () => {
  const now = performance.now();
  state.clock = document.hidden ? pauseClock(state.clock, now) : resumeClock(state.clock, now);
});

// ---------------------------------------------------------------- submit and skip

async function submit() {
  if (!state.task || state.busy) return;
  const { task, ranking } = state;
  if (!ranking.complete) {
    showError(`Rank every response before submitting: ${ranking.left} still to place.`);
    return;
  }
  const body = submission(ranking, {
    durationMs: elapsedMs(state.clock, performance.now()),
    strength: chosenStrength(), flags: checkedFlags(), rationale: el.rationale.value,
    responseFlags: readResponseFlags(el.pool),
  });

  state.busy = true;
  el.submit.disabled = true;
  el.submit.setAttribute("aria-busy", "true");
  let res = null;
  let failure = null;
  try {
    res = await api.post(state.revising ? state.revising.url : assignmentUrl(task.assignment, "submit"), body,
      { "Idempotency-Key": submitKeys.get(task.assignment) });
  } catch (err) {
    failure = apiFailure(err);
  } finally {
    state.busy = false;
    el.submit.removeAttribute("aria-busy");
  }
  if (res && state.revising) {
    window.location.assign(`${config.urls.myLabels}?revised=${encodeURIComponent(res.data.annotation)}`);
    return;
  }
  if (res) {
    submitKeys.release(task.assignment);
    state.progress.labels += 1;
    renderProgress();
    clearError();
    showNotice("");
    showFeedback(el.feedback, { task, ranking: body.ranking }, res.data || {}, api.get, { onAnswer: rewardModel.saw });
    loadNext();
    return;
  }
  render();
  if (failure.network) {
    showError("Your ranking could not be sent (network problem). It is kept: press Enter to try again.");
  } else if (failure.status === 403) {
    await handleForbidden(failure.body);
  } else if ((failure.status === 409 || failure.status === 404) && !state.revising) {
    // The task is gone (lease lost, skipped or answered elsewhere): say so and move on.
    showError(failure.message, failure.problems);
    loadNext({ keepError: true });
  } else {
    showError(failure.message, failure.problems);
  }
}

const skipDialog = bindSkipDialog({
  dialog: el.skipDialog, form: el.skipForm, details: el.skipDetails, cancel: $("skip-cancel"), onSkip: skip,
});

function openSkip() {
  if (!state.task || state.busy || state.revising) return;
  skipDialog.open();
}

async function skip(reason) {
  if (!state.task || state.busy) return;
  const task = state.task;
  state.busy = true;
  let failure = null;
  try {
    await api.post(assignmentUrl(task.assignment, "skip"), { reason });
  } catch (err) {
    failure = apiFailure(err);
  } finally {
    state.busy = false;
  }
  if (!failure) {
    state.progress.skips += 1;
    renderProgress();
    clearError();
    showNotice(`Skipped item ${task.itemId}.`);
    loadNext();
  } else if (failure.network) {
    showError("The skip could not be sent (network problem). Try again.");
  } else if (failure.status === 403) {
    await handleForbidden(failure.body);
  } else {
    showError(failure.message, failure.problems);
  }
}

el.submit.addEventListener("click", submit);
el.skip.addEventListener("click", openSkip);
$("check-again").addEventListener("click", () => loadNext());
$("try-again").addEventListener("click", () => loadNext());
$("show-shortcuts").addEventListener("click", () => el.shortcuts.showModal());

// ---------------------------------------------------------------- keyboard

bindKeyboard(document, {
  page: () => ({
    dialogOpen: el.skipDialog.open || el.shortcuts.open,
    view: state.view,
    busy: state.busy,
    dragging: drag.pending(),
    size: state.ranking ? state.ranking.size : 0,
    complete: state.ranking ? state.ranking.complete : false,
    tie: state.ranking ? state.ranking.hasTie : false,
  }),
  handlers: {
    submit,
    shortcuts: () => el.shortcuts.showModal(),
    strength: setStrength,
    pick: (n) => {
      const response = state.task.responses.find((r) => r.num === n);
      if (response) pick(response.id);
    },
    tie: () => setTieNext(!state.tieNext),
    undo,
    skip: openSkip,
    escape: () => {
      setTieNext(false);
      showNotice("");
    },
  },
});

// ---------------------------------------------------------------- revising a label

const reviseId = reviseIdFrom(window.location.search);

/* ?revise=<label id>: that label's item with the earlier answer in place (revise.js). */
async function loadRevision() {
  setView("loading");
  let res;
  try {
    res = await api.get(config.urls.label.replace("{id}", encodeURIComponent(reviseId)));
  } catch (err) {
    apiFailure(err);
    showBlocked(err.network ? "The server could not be reached. Check your connection and reload the page." : err.message);
    return;
  }
  const label = res.data;
  if (!label.revisable) {
    showBlocked(label.not_revisable_because);
    return;
  }
  state.revising = { id: label.id, url: label.revise_url };
  showTask(revisionTask(label), res.serverNow, revisionResume(label));
  el.lease.hidden = true;
  el.skip.hidden = true;
  showNotice(revisionNotice(label));
}

renderProgress();
// Work in hand when the session ends is kept, and given back after logging in (session.js).
const kept = keepWorkAcrossLogin({ key: config.projectId, before: el.notice, work: () => (state.ranking && !state.revising ? workInHand() : null) });
if (reviseId) loadRevision();
else loadNext({ resume: kept }).then(() => kept && showNotice(keptWorkNotice(kept, state.task)));
