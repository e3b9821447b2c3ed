/* Rankwise ranking page: fetches a task from the REST API, lets the annotator order the
 * responses into tiers (drag and drop, buttons or keys), submits, shows what the reward model
 * made of the label, and loads the next task without reloading the page.
 *
 * Everything users wrote (prompts, responses) is put into the page as text nodes, never as
 * HTML, so a response containing markup is shown, not run. */
(function () {
  "use strict";

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

  const PROGRESS_KEY = `rankwise:progress:${config.projectId}`;
  const state = {
    view: "loading",
    task: null,        // {assignment, itemId, responses: [{id, text, num}], isPractice, reason}
    tiers: [],         // [[responseId, ...], ...] best first
    history: [],       // earlier `tiers`, for undo
    tieNext: false,
    busy: false,
    idempotencyKeys: new Map(),  // assignment id -> key, so a retried submit is the same submit
    lease: { deadline: 0, total: 0, timer: null, warned: false },
    clock: { activeMs: 0, visibleSince: null },
    progress: loadProgress(),
  };

  // ---------------------------------------------------------------- small helpers

  function ordinal(n) {
    const tens = n % 100;
    if (tens >= 11 && tens <= 13) return `${n}th`;
    return `${n}${{ 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th"}`;
  }

  function make(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    // randomUUID needs a secure context; getRandomValues works on plain http too.
    const b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function csrfToken() {
    const name = `${config.csrfCookie || "csrftoken"}=`;
    for (const part of document.cookie.split(";")) {
      const cookie = part.trim();
      if (cookie.startsWith(name)) return decodeURIComponent(cookie.slice(name.length));
    }
    const field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  async function api(method, url, body, headers) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: Object.assign(
        { Accept: "application/json" },
        body === undefined ? {} : { "Content-Type": "application/json" },
        method === "GET" ? {} : { "X-CSRFToken": csrfToken() },
        headers || {},
      ),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    const text = response.status === 204 ? "" : await response.text();
    if (text) {
      try { data = JSON.parse(text); } catch (_) { data = { detail: text.slice(0, 300) }; }
    }
    const date = Date.parse(response.headers.get("Date") || "");
    return { status: response.status, ok: response.ok, data, serverNow: Number.isNaN(date) ? null : date };
  }

  function assignmentUrl(id, action) {
    return `${config.urls.assignment.replace("{id}", encodeURIComponent(id))}${action}/`;
  }

  // ---------------------------------------------------------------- safe text rendering

  /* Paragraphs, line breaks, ``` fenced code blocks and `inline code`, built from text
   * nodes only. */
  function renderText(text) {
    const out = document.createDocumentFragment();
    const lines = String(text == null ? "" : text).replace(/\r\n?/g, "\n").split("\n");
    let paragraph = [];
    let code = null;

    function flushParagraph() {
      if (!paragraph.length) return;
      const p = make("p");
      paragraph.forEach((line, i) => {
        if (i) p.append(make("br"));
        appendInline(p, line);
      });
      out.append(p);
      paragraph = [];
    }

    for (const line of lines) {
      const fence = /^\s*```\s*([\w+#.-]*)\s*$/.exec(line);
      if (code) {
        if (fence && !fence[1]) {
          out.append(codeBlock(code));
          code = null;
        } else {
          code.lines.push(line);
        }
      } else if (fence) {
        flushParagraph();
        code = { lang: fence[1], lines: [] };
      } else if (!line.trim()) {
        flushParagraph();
      } else {
        paragraph.push(line);
      }
    }
    if (code) out.append(codeBlock(code));
    flushParagraph();
    return out;
  }

  function codeBlock(code) {
    return make("pre", { class: "code", "data-lang": code.lang || null },
      make("code", null, code.lines.join("\n")));
  }

  function appendInline(parent, line) {
    const parts = line.split("`");
    // An odd number of pieces means the backticks pair up; otherwise show them literally.
    if (parts.length < 3 || parts.length % 2 === 0) {
      parent.append(document.createTextNode(line));
      return;
    }
    parts.forEach((part, i) => {
      if (i % 2) parent.append(make("code", null, part));
      else if (part) parent.append(document.createTextNode(part));
    });
  }

  function conversationOf(item) {
    if (Array.isArray(item.messages) && item.messages.length) {
      return item.messages.map((m) => ({ role: String(m.role || "user"), content: m.content }));
    }
    return [{ role: "user", content: item.prompt }];
  }

  function roleLabel(role) {
    const known = { user: "User", human: "User", assistant: "Assistant", system: "System" };
    return known[role.toLowerCase()] || role.charAt(0).toUpperCase() + role.slice(1);
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

  function showNotice(message) {
    el.notice.textContent = message;
    el.notice.hidden = !message;
  }

  function clearError() {
    el.error.replaceChildren();
    el.error.hidden = true;
  }

  function showError(message, errors) {
    el.error.replaceChildren(make("strong", null, message || "Something went wrong."));
    if (Array.isArray(errors) && errors.length) {
      el.error.append(make("ul", null, ...errors.map((e) => {
        const where = e.field !== undefined ? e.field : e.line !== undefined ? `line ${e.line}` : "";
        return make("li", null, where ? `${where}: ${e.message}` : e.message);
      })));
    }
    el.error.hidden = false;
  }

  function showApiError(res, fallback) {
    const data = res.data || {};
    const detail = typeof data.detail === "string" ? data.detail : fallback || `The server answered ${res.status}.`;
    showError(detail, data.errors);
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
    const { labels, skips } = state.progress;
    el.progress.textContent = `${labels} label${labels === 1 ? "" : "s"} this session` +
      (skips ? ` · ${skips} skipped` : "");
    try { window.sessionStorage.setItem(PROGRESS_KEY, JSON.stringify(state.progress)); } catch (_) { /* private mode */ }
  }

  // ---------------------------------------------------------------- loading a task

  async function loadNext({ keepError = false, resume = null } = {}) {
    if (!keepError) clearError();
    // A skip dialog left open would otherwise skip the task that comes next.
    if (el.skipDialog.open) el.skipDialog.close("");
    stopLease();
    state.task = null;
    setView("loading");
    let res;
    try {
      res = await api("GET", config.urls.next);
    } catch (_) {
      setView("blocked");
      el.blockedDetail.textContent = "The server could not be reached. Check your connection and reload the page.";
      return;
    }
    if (res.status === 200 && res.data && res.data.item) {
      showTask(res.data, res.serverNow, resume);
    } else if (res.status === 204) {
      const { labels, skips } = state.progress;
      el.emptySummary.textContent = labels || skips
        ? `This session: ${labels} labelled, ${skips} skipped.` : "";
      setView("empty");
    } else if (res.status === 403) {
      await handleForbidden(res);
    } else {
      setView("blocked");
      el.blockedDetail.textContent = (res.data && res.data.detail) || `The server answered ${res.status}.`;
    }
  }

  /* A 403 either means "read the (new) guidelines first" — then go there and come back — or
   * something only a manager can lift (paused, must qualify), which is shown as it is. */
  async function handleForbidden(res) {
    const code = res.data && res.data.code;
    if (code === "guideline_not_acknowledged") {
      window.location.assign(config.urls.guidelines);
      return;
    }
    if (code) {
      setView("blocked");
      el.blockedDetail.textContent = res.data.detail || "You may not annotate in this project right now.";
      return;
    }
    try {
      const guideline = await api("GET", config.urls.guidelinesApi);
      if (guideline.status === 200 && guideline.data && guideline.data.acknowledged === false) {
        window.location.assign(config.urls.guidelines);
        return;
      }
    } catch (_) { /* fall through to the message */ }
    setView("blocked");
    el.blockedDetail.textContent = (res.data && res.data.detail) || "You may not annotate in this project right now.";
  }

  /* What the annotator had done on a task, to give it back if the same item returns. */
  function workInHand() {
    return {
      itemId: state.task.itemId,
      responseIds: state.task.responses.map((r) => r.id).sort((a, b) => a - b),
      tiers: state.tiers, history: state.history, clock: state.clock,
      strength: chosenStrength(), rationale: el.rationale.value,
      flags: Array.from(el.flags.querySelectorAll("input:checked"), (input) => input.value),
    };
  }

  function showTask(data, serverNow, resume) {
    const responses = (data.item.responses || []).map((r, i) => ({ id: r.id, text: r.text, num: i + 1 }));
    state.task = {
      assignment: data.assignment,
      itemId: data.item.id,
      responses,
      isPractice: Boolean(data.is_practice),
      reason: data.reason || "",
    };
    state.tiers = [];
    state.history = [];
    state.tieNext = false;
    state.busy = false;
    root.dataset.assignment = String(data.assignment);
    root.dataset.item = String(data.item.id);

    el.conversation.replaceChildren(...conversationOf(data.item).map((turn) => make("div",
      { class: `turn turn-${turn.role.toLowerCase().replace(/[^a-z]/g, "")}` },
      make("div", { class: "turn-role" }, roleLabel(turn.role)),
      make("div", { class: "turn-text" }, renderText(turn.content)),
    )));
    el.reason.textContent = `Item ${data.item.id}${state.task.reason ? ` · ${state.task.reason}` : ""}`;
    el.practice.hidden = !state.task.isPractice;
    el.pool.style.setProperty("--k", String(responses.length));
    el.pool.replaceChildren(...responses.map(responseCard));

    el.strength.hidden = responses.length !== 2;
    for (const input of el.strength.querySelectorAll("input")) input.checked = false;
    for (const input of el.flags.querySelectorAll("input")) input.checked = false;
    el.rationale.value = "";

    const ids = responses.map((r) => r.id).sort((a, b) => a - b);
    const same = resume && resume.itemId === data.item.id &&
      JSON.stringify(resume.responseIds) === JSON.stringify(ids);
    if (same) {
      state.tiers = resume.tiers;
      state.history = resume.history;
      if (resume.strength) setStrength(resume.strength);
      for (const input of el.flags.querySelectorAll("input")) input.checked = resume.flags.includes(input.value);
      el.rationale.value = resume.rationale;
    }
    if (resume) {
      showNotice(same
        ? "Time ran out on this task, but nobody else had taken it: it is yours again with a fresh timer. Your ranking so far is kept; the responses may be in a new order."
        : "Time ran out on that task, so it went back to the queue. Here is the next one.");
    }

    setView("task");
    render();
    if (same) state.clock = resume.clock;
    else startClock();
    startLease(data.lease_expires_at, serverNow);
    el.taskTitle.textContent = `Task: item ${data.item.id}`;
    window.scrollTo({ top: 0 });
    el.taskTitle.focus({ preventScroll: true });
  }

  function responseCard(r) {
    return make("article", {
      class: "response-card", role: "listitem", "aria-labelledby": `response-title-${r.num}`,
      dataset: { responseId: String(r.id), num: String(r.num) },
    },
    make("header", { class: "response-head", dataset: { drag: String(r.id) }, title: "Drag into the ranking" },
      make("span", { class: "grip", "aria-hidden": "true" }, "⠿"),
      make("h3", { id: `response-title-${r.num}` }, "Response ", make("kbd", null, String(r.num))),
      make("span", { class: "rank-badge", hidden: true })),
    make("div", { class: "response-body" }, renderText(r.text)),
    make("footer", { class: "response-actions" },
      make("button", { type: "button", class: "small", dataset: { action: "next", id: String(r.id) } }, "Rank next"),
      make("button", { type: "button", class: "small", dataset: { action: "tie", id: String(r.id) } }, "Tie"),
      make("button", { type: "button", class: "small", dataset: { action: "remove", id: String(r.id) } }, "Unrank")));
  }

  // ---------------------------------------------------------------- the ranking itself

  function responseById(id) {
    return state.task.responses.find((r) => r.id === id);
  }

  function tierOf(id) {
    return state.tiers.findIndex((tier) => tier.includes(id));
  }

  function isComplete() {
    return state.task !== null && state.tiers.reduce((n, t) => n + t.length, 0) === state.task.responses.length;
  }

  function isTie() {
    return state.tiers.some((tier) => tier.length > 1);
  }

  function change(mutate) {
    const before = state.tiers.map((t) => t.slice());
    const after = mutate(before.map((t) => t.slice())).filter((t) => t.length);
    if (JSON.stringify(after) === JSON.stringify(before)) return;
    state.history.push(before);
    state.tiers = after;
    clearError();
    render();
    announceRanking();
  }

  /* Screen readers hear the whole ranking after each change, as sighted users see it. */
  function announceRanking() {
    const parts = state.tiers.map((tier, i) => `${ordinal(i + 1)}: ${tier.map((id) => `response ${responseById(id).num}`).join(" and ")}`);
    const left = state.task.responses.length - state.tiers.reduce((n, t) => n + t.length, 0);
    el.announce.textContent = `${parts.join("; ") || "Nothing ranked"}. ${left ? `${left} left.` : "All ranked."}`;
  }

  const without = (tiers, id) => tiers.map((t) => t.filter((x) => x !== id));

  /* A new tier of its own at `index` (0 = best), counted among the tiers as they are now. */
  function placeNew(id, index) {
    change((tiers) => {
      const rest = without(tiers, id);
      const out = [];
      for (let i = 0; i <= rest.length; i += 1) {
        if (i === index) out.push([id]);
        if (i < rest.length) out.push(rest[i]);
      }
      return out;
    });
  }

  function joinTier(id, index) {
    change((tiers) => {
      const rest = without(tiers, id);
      rest[index].push(id);
      return rest;
    });
  }

  function unrank(id) {
    change((tiers) => without(tiers, id));
  }

  function pick(id, { tie = state.tieNext } = {}) {
    const response = responseById(id);
    if (tierOf(id) >= 0) {
      showNotice(`Response ${response.num} is already ranked ${ordinal(tierOf(id) + 1)}. Press U to undo.`);
      return;
    }
    showNotice("");
    if (tie && state.tiers.length) joinTier(id, state.tiers.length - 1);
    else placeNew(id, state.tiers.length);
    setTieNext(false);
  }

  function undo() {
    if (!state.history.length) return;
    state.tiers = state.history.pop();
    setTieNext(false);
    render();
    announceRanking();
  }

  function setTieNext(on) {
    state.tieNext = Boolean(on) && state.tiers.length > 0 && !isComplete();
    el.tie.setAttribute("aria-pressed", String(state.tieNext));
    el.tieHint.hidden = !state.tieNext;
    el.tieHint.textContent = state.tieNext
      ? `Tie: your next pick joins the ${ordinal(state.tiers.length)} place` : "";
  }

  function setStrength(value) {
    const input = el.strength.querySelector(`input[value="${value}"]`);
    if (input) input.checked = true;
  }

  function render() {
    const complete = isComplete();
    const tie = isTie();
    for (const card of el.pool.children) {
      const id = Number(card.dataset.responseId);
      const t = tierOf(id);
      const badge = card.querySelector(".rank-badge");
      card.classList.toggle("is-ranked", t >= 0);
      card.classList.toggle("is-top", t === 0);
      badge.hidden = t < 0;
      badge.textContent = t < 0 ? "" : `${state.tiers[t].length > 1 ? "Tied " : ""}${ordinal(t + 1)}`;
      const num = card.dataset.num;
      const [nextButton, tieButton, removeButton] = card.querySelectorAll(".response-actions button");
      nextButton.hidden = t >= 0;
      nextButton.setAttribute("aria-label", `Put response ${num} in place ${state.tiers.length + 1}`);
      tieButton.hidden = t >= 0 || !state.tiers.length;
      tieButton.textContent = `Tie with ${ordinal(state.tiers.length)}`;
      tieButton.setAttribute("aria-label", `Tie response ${num} with place ${state.tiers.length}`);
      removeButton.hidden = t < 0;
      removeButton.setAttribute("aria-label", `Take response ${num} out of the ranking`);
    }

    const rows = [];
    state.tiers.forEach((tier, i) => {
      rows.push(gapSlot(i, false));
      rows.push(make("li", { class: i === 0 ? "tier first" : "tier", dataset: { drop: "tier", index: String(i) } },
        make("span", { class: "tier-label" }, ordinal(i + 1)),
        make("span", { class: "chips" }, ...tier.map((id) => chip(id))),
        tier.length > 1 ? make("span", { class: "tie-mark" }, "tie") : null));
    });
    rows.push(gapSlot(state.tiers.length, true));
    el.tiers.replaceChildren(...rows);

    el.undo.disabled = !state.history.length;
    el.tie.disabled = !state.tiers.length || complete;
    el.submit.disabled = !complete || state.busy;
    el.submit.textContent = complete ? "Submit" : `Submit (${state.task.responses.length - state.tiers.reduce((n, t) => n + t.length, 0)} left)`;
    const strengthOpen = state.task.responses.length === 2;
    el.strength.hidden = !strengthOpen;
    el.strength.disabled = strengthOpen && complete && tie;
    setTieNext(state.tieNext);
  }

  function gapSlot(index, isNext) {
    const label = !isNext ? [] : isComplete()
      ? ["All ranked", make("span", { class: "kbd-hint" }, ": press Enter to submit")]
      : [`Drop here for ${ordinal(index + 1)} place`, make("span", { class: "kbd-hint" }, ", or press a number")];
    return make("li", {
      class: isNext ? `gap next-slot${isComplete() ? " complete" : ""}` : "gap", "aria-hidden": isNext ? null : "true",
      dataset: { drop: "gap", index: String(index) },
    }, ...label);
  }

  function chip(id) {
    const r = responseById(id);
    return make("span", { class: "chip", dataset: { drag: String(id) }, title: "Drag to move" },
      `Response ${r.num}`,
      make("button", {
        type: "button", class: "chip-remove", "aria-label": `Take response ${r.num} out of the ranking`,
        dataset: { action: "remove", id: String(id) },
      }, "×"));
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

  // ---------------------------------------------------------------- drag and drop

  /* Pointer events rather than HTML5 drag and drop: the same code serves mouse, pen and
   * touch, and the drop target is whatever is under the pointer. */
  let drag = null;

  function dropTargetAt(x, y) {
    const under = document.elementFromPoint(x, y);
    return under ? under.closest("[data-drop]") : null;
  }

  function highlight(target) {
    if (drag.target === target) return;
    if (drag.target) drag.target.classList.remove("drop-over");
    drag.target = target;
    if (target) target.classList.add("drop-over");
  }

  el.task.addEventListener("pointerdown", (event) => {
    const handle = event.target.closest("[data-drag]");
    if (!handle || event.button !== 0 || event.target.closest("button") || !state.task || state.busy) return;
    drag = {
      id: Number(handle.dataset.drag), pointerId: event.pointerId,
      x: event.clientX, y: event.clientY, active: false, ghost: null, target: null,
    };
    event.preventDefault();
  });

  window.addEventListener("pointermove", (event) => {
    if (!drag || event.pointerId !== drag.pointerId) return;
    if (!drag.active) {
      if (Math.hypot(event.clientX - drag.x, event.clientY - drag.y) < 6) return;
      drag.active = true;
      root.classList.add("dragging");
      drag.ghost = make("div", { class: "drag-ghost", "aria-hidden": "true" }, `Response ${responseById(drag.id).num}`);
      document.body.append(drag.ghost);
    }
    drag.ghost.style.transform = `translate(${event.clientX + 12}px, ${event.clientY + 12}px)`;
    highlight(dropTargetAt(event.clientX, event.clientY));
    const edge = 48;
    if (event.clientY < edge) window.scrollBy(0, -12);
    else if (event.clientY > window.innerHeight - edge) window.scrollBy(0, 12);
  });

  function endDrag(event, drop) {
    if (!drag || event.pointerId !== drag.pointerId) return;
    const { id, active } = drag;
    const target = active && drop ? dropTargetAt(event.clientX, event.clientY) : null;
    if (drag.target) drag.target.classList.remove("drop-over");
    if (drag.ghost) drag.ghost.remove();
    root.classList.remove("dragging");
    drag = null;
    if (!target) return;
    const index = Number(target.dataset.index);
    if (target.dataset.drop === "gap") placeNew(id, index);
    else if (target.dataset.drop === "tier") joinTier(id, index);
    else if (target.dataset.drop === "pool") unrank(id);
    setTieNext(false);
  }

  window.addEventListener("pointerup", (event) => endDrag(event, true));
  window.addEventListener("pointercancel", (event) => endDrag(event, false));

  // ---------------------------------------------------------------- time on task and lease

  function startClock() {
    state.clock = { activeMs: 0, visibleSince: document.hidden ? null : performance.now() };
  }

  /* Time the task was on screen: a tab left in the background does not count as work. */
  function elapsedMs() {
    const { activeMs, visibleSince } = state.clock;
    return Math.max(1, Math.round(activeMs + (visibleSince === null ? 0 : performance.now() - visibleSince)));
  }

  document.addEventListener("visibilitychange", () => {
    const clock = state.clock;
    if (document.hidden && clock.visibleSince !== null) {
      clock.activeMs += performance.now() - clock.visibleSince;
      clock.visibleSince = null;
    } else if (!document.hidden && clock.visibleSince === null) {
      clock.visibleSince = performance.now();
    }
  });

  function startLease(expiresAt, serverNow) {
    stopLease();
    const expires = Date.parse(expiresAt || "");
    if (Number.isNaN(expires)) return;
    // Count down from the server's clock, not the (possibly wrong) clock of this computer.
    const left = expires - (serverNow || Date.now());
    state.lease.deadline = Date.now() + left;
    state.lease.total = left;
    state.lease.warned = false;
    tickLease();
    state.lease.timer = window.setInterval(tickLease, 1000);
  }

  function stopLease() {
    if (state.lease.timer) window.clearInterval(state.lease.timer);
    state.lease.timer = null;
    el.lease.classList.remove("warn");
  }

  function formatDuration(ms) {
    const s = Math.max(0, Math.ceil(ms / 1000));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = String(s % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
  }

  function tickLease() {
    const left = state.lease.deadline - Date.now();
    el.lease.textContent = `${formatDuration(left)} left`;
    el.lease.setAttribute("aria-label", `Time left on this task: ${formatDuration(left)}`);
    const warnAt = Math.min(120000, state.lease.total / 4);
    if (left <= warnAt) {
      el.lease.classList.add("warn");
      if (!state.lease.warned && left > 0) {
        state.lease.warned = true;
        showNotice(`Less than ${formatDuration(warnAt)} left on this task: submit soon, or it goes back to the queue.`);
      }
    }
    if (left <= 0 && !state.busy) {
      stopLease();
      const resume = workInHand();
      showNotice("Time ran out on this task.");
      loadNext({ resume });
    }
  }

  // ---------------------------------------------------------------- submit and skip

  function chosenStrength() {
    const input = el.strength.querySelector("input:checked");
    return input ? Number(input.value) : null;
  }

  async function submit() {
    if (!state.task || state.busy) return;
    if (!isComplete()) {
      const left = state.task.responses.length - state.tiers.reduce((n, t) => n + t.length, 0);
      showError(`Rank every response before submitting: ${left} still to place.`);
      return;
    }
    const task = state.task;
    const ranking = state.tiers.map((t) => t.slice());
    const body = { ranking, duration_ms: elapsedMs() };
    const strength = chosenStrength();
    if (task.responses.length === 2 && !isTie() && strength) body.strength = strength;
    const flags = Array.from(el.flags.querySelectorAll("input:checked"), (input) => input.value);
    if (flags.length) body.flags = flags;
    const rationale = el.rationale.value.trim();
    if (rationale) body.rationale = rationale;
    if (!state.idempotencyKeys.has(task.assignment)) state.idempotencyKeys.set(task.assignment, uuid());

    state.busy = true;
    el.submit.disabled = true;
    el.submit.setAttribute("aria-busy", "true");
    let res;
    try {
      res = await api("POST", assignmentUrl(task.assignment, "submit"), body,
        { "Idempotency-Key": state.idempotencyKeys.get(task.assignment) });
    } catch (_) {
      res = null;
    }
    state.busy = false;
    el.submit.removeAttribute("aria-busy");
    if (res && (res.status === 201 || res.status === 200)) {
      state.idempotencyKeys.delete(task.assignment);
      state.progress.labels += 1;
      renderProgress();
      clearError();
      showNotice("");
      showFeedback({ task, ranking }, res.data || {});
      loadNext();
      return;
    }
    render();
    if (!res) {
      showError("Your ranking could not be sent (network problem). It is kept: press Enter to try again.");
    } else if (res.status === 403) {
      await handleForbidden(res);
    } else if (res.status === 409 || res.status === 404) {
      // The task is gone (lease lost, skipped or answered elsewhere): say so and move on.
      showApiError(res);
      loadNext({ keepError: true });
    } else {
      showApiError(res);
    }
  }

  function openSkip() {
    if (!state.task || state.busy) return;
    el.skipForm.reset();
    el.skipDialog.returnValue = "";
    el.skipDialog.showModal();
  }

  el.skipDetails.addEventListener("input", () => {
    if (!el.skipForm.querySelector("input[name=skip-reason]:checked")) {
      el.skipForm.querySelector("input[name=skip-reason][value=Other]").checked = true;
    }
  });
  $("skip-cancel").addEventListener("click", () => el.skipDialog.close(""));
  el.skipDialog.addEventListener("close", () => {
    if (el.skipDialog.returnValue !== "skip") return;
    const chosen = el.skipForm.querySelector("input[name=skip-reason]:checked");
    const details = el.skipDetails.value.trim();
    const reason = [chosen && chosen.value !== "Other" ? chosen.value : "", details].filter(Boolean).join(": ") || "Other";
    skip(reason);
  });

  async function skip(reason) {
    if (!state.task || state.busy) return;
    const task = state.task;
    state.busy = true;
    let res;
    try {
      res = await api("POST", assignmentUrl(task.assignment, "skip"), { reason });
    } catch (_) {
      res = null;
    }
    state.busy = false;
    if (res && res.ok) {
      state.progress.skips += 1;
      renderProgress();
      clearError();
      showNotice(`Skipped item ${task.itemId}.`);
      loadNext();
    } else if (!res) {
      showError("The skip could not be sent (network problem). Try again.");
    } else if (res.status === 403) {
      await handleForbidden(res);
    } else {
      showApiError(res);
    }
  }

  el.submit.addEventListener("click", submit);
  el.skip.addEventListener("click", openSkip);
  $("check-again").addEventListener("click", () => loadNext());
  $("try-again").addEventListener("click", () => loadNext());
  $("show-shortcuts").addEventListener("click", () => el.shortcuts.showModal());

  // ---------------------------------------------------------------- feedback ("watch it learn")

  function showFeedback(submitted, result) {
    const { task, ranking } = submitted;
    const panel = el.feedback;
    const body = make("div", { class: "feedback-body" }, make("p", { class: "muted" }, "Asking the reward model…"));
    panel.replaceChildren(
      make("div", { class: "feedback-head" },
        make("h2", null, `Your label for item ${task.itemId}`),
        make("button", {
          type: "button", class: "icon-button", "aria-label": "Hide feedback",
          onclick: () => { panel.hidden = true; },
        }, "×")),
      make("p", { class: "ranking-line" }, "You ranked: ", rankingText(task, ranking)),
    );
    const practice = result.practice || {};
    const expected = practice.gold_ranking || result.correct_ranking;
    const correct = practice.correct !== undefined ? practice.correct : result.correct;
    panel.classList.toggle("wrong", Boolean(task.isPractice && Array.isArray(expected) && !correct));
    if (task.isPractice && Array.isArray(expected)) {
      panel.append(make("p", { class: correct ? "verdict ok" : "verdict wrong" },
        correct ? "✓ Correct: that matches the expected ranking." : "✗ Not quite. Expected: ",
        correct ? null : rankingText(task, expected)));
      if (practice.required) {
        panel.append(make("p", { class: "muted practice-score" }, practice.qualified
          ? "Practice passed: real tasks are open to you now."
          : `Practice: ${practice.answered_correctly} of ${practice.answered} right so far; ` +
            `you need ${Math.round(100 * practice.min_accuracy)}% of your last ${practice.required}.`));
      }
    }
    panel.append(body);
    panel.hidden = false;
    if (!result.feedback_url) {
      body.replaceChildren(noModelYet());
      return;
    }
    api("GET", result.feedback_url).then((res) => {
      if (res.status === 200 && res.data && res.data.model_version && Array.isArray(res.data.responses)) {
        body.replaceChildren(scoreChart(task, ranking, res.data));
      } else if (res.status === 404 || (res.status === 200 && res.data && !res.data.model_version)) {
        body.replaceChildren(noModelYet());
      } else {
        body.replaceChildren(make("p", { class: "muted" }, "The reward model's view could not be loaded."));
      }
    }).catch(() => {
      body.replaceChildren(make("p", { class: "muted" }, "The reward model's view could not be loaded."));
    });
  }

  function noModelYet() {
    return make("p", { class: "no-model" }, "No reward model yet: your labels will train the first one.");
  }

  function rankingText(task, ranking) {
    const num = (id) => {
      const r = task.responses.find((x) => x.id === id);
      return r ? `#${r.num}` : `?${id}`;
    };
    return make("strong", null, ranking.map((tier) => tier.map(num).join(" = ")).join("  ≻  "));
  }

  /* One row per response, in the annotator's order: a faint bar for the score before this
   * label, a solid one for after, and the change as a number. */
  function scoreChart(task, ranking, data) {
    const scores = new Map(data.responses.map((r) => [r.id, r]));
    const values = data.responses.flatMap((r) => [Number(r.before), Number(r.after)]).filter(Number.isFinite);
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    const span = hi - lo || 1;
    const width = (v) => `${(8 + 92 * ((v - lo) / span)).toFixed(1)}%`;
    const rows = [];
    ranking.forEach((tier, t) => tier.forEach((id) => {
      const r = task.responses.find((x) => x.id === id);
      const s = scores.get(id);
      if (!r || !s) return;
      const before = Number(s.before);
      const after = Number(s.after);
      const delta = after - before;
      const arrow = delta > 0.005 ? "▲" : delta < -0.005 ? "▼" : "■";
      rows.push(make("li", {
        class: t === 0 ? "score-row top" : "score-row",
        "aria-label": `Response ${r.num}, your ${ordinal(t + 1)}: score ${before.toFixed(2)} before, ${after.toFixed(2)} after`,
      },
      make("span", { class: "score-label" }, `#${r.num}`, t === 0 ? make("span", { class: "top-tag" }, "your best") : null),
      make("span", { class: "score-track", "aria-hidden": "true" },
        make("span", { class: "bar before", style: `width:${width(before)}` }),
        make("span", { class: "bar after", style: `width:${width(after)}` })),
      make("span", { class: `score-delta ${delta > 0.005 ? "up" : delta < -0.005 ? "down" : ""}` },
        `${before.toFixed(2)} → ${after.toFixed(2)} ${arrow}`)));
    }));
    if (!rows.length) {
      return make("p", { class: "muted" }, `Reward model ${data.model_version} has no scores for these responses yet.`);
    }
    return make("div", null,
      make("p", { class: "muted small" }, `Reward model ${data.model_version}: each response's score before → after one learning step on your label.`),
      make("ol", { class: "score-chart" }, ...rows),
      make("p", { class: "legend muted small" },
        make("span", { class: "swatch before" }), " before ", make("span", { class: "swatch after" }), " after"));
  }

  // ---------------------------------------------------------------- keyboard

  function isTyping(target) {
    if (!target || !target.tagName) return false;
    if (target.isContentEditable || target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
    return target.tagName === "INPUT" && !["checkbox", "radio", "button", "submit"].includes(target.type);
  }

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.isComposing) return;
    if (el.skipDialog.open || el.shortcuts.open) return;  // dialogs handle their own keys
    const key = event.key;
    const modified = event.ctrlKey || event.metaKey || event.altKey;
    if (isTyping(event.target)) {
      if (key === "Escape") event.target.blur();
      else if (key === "Enter" && (event.ctrlKey || event.metaKey) && state.view === "task") {
        event.preventDefault();
        submit();
      }
      return;
    }
    if (modified) return;
    if (key === "?") {
      event.preventDefault();
      el.shortcuts.showModal();
      return;
    }
    if (state.view !== "task" || state.busy || drag) return;
    if (/^[1-9]$/.test(key)) {
      event.preventDefault();
      const n = Number(key);
      if (state.task.responses.length === 2 && isComplete()) {
        if (!isTie() && n <= 3) setStrength(n);
        return;
      }
      const response = state.task.responses.find((r) => r.num === n);
      if (response) pick(response.id);
    } else if (key === "t" || key === "T") {
      event.preventDefault();
      setTieNext(!state.tieNext);
    } else if (key === "Backspace" || key === "u" || key === "U") {
      event.preventDefault();
      undo();
    } else if (key === "Enter") {
      // Enter on a focused button or link activates that control instead.
      if (event.target.closest && event.target.closest("button, a, summary")) return;
      event.preventDefault();
      submit();
    } else if (key === "s" || key === "S") {
      event.preventDefault();
      openSkip();
    } else if (key === "Escape") {
      setTieNext(false);
      showNotice("");
    }
  });

  renderProgress();
  loadNext();
})();
