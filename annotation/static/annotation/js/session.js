/* When the session ends in the middle of a task (it expired, or the user logged out in
 * another tab), the ranking page keeps the work in hand in sessionStorage, shows a notice
 * with a "log in again" link that comes back to the page, and gives the work back once the
 * page loads again after the login. api.js tells it that the session is gone. */

import { onSessionLost } from "./api.js";
import { make } from "./dom.js";

const MAX_AGE_MS = 12 * 60 * 60 * 1000;
const storageKey = (key) => `rankwise:kept-work:${key}`;

function store(key, work) {
  if (!work) return;
  try {
    window.sessionStorage.setItem(storageKey(key), JSON.stringify({ savedAt: Date.now(), work }));
  } catch (_) { /* private mode: nothing kept */ }
}

/* The work kept for `key` before the last login, once (it is removed as it is read). */
export function takeKeptWork(key) {
  try {
    const raw = window.sessionStorage.getItem(storageKey(key));
    window.sessionStorage.removeItem(storageKey(key));
    const saved = raw ? JSON.parse(raw) : null;
    return saved && Date.now() - saved.savedAt < MAX_AGE_MS ? saved.work : null;
  } catch (_) {
    return null;
  }
}

export function loginUrl(location = window.location) {
  return `/login/?next=${encodeURIComponent(location.pathname + location.search)}`;
}

/* Listens for a lost session; `work()` gives what to keep (null when there is nothing).
 * Returns the work kept by an earlier page, to resume. */
export function keepWorkAcrossLogin({ key, work, before }) {
  let notice = null;
  onSessionLost(() => {
    store(key, work());
    if (notice) return;
    const link = make("a", { href: loginUrl(), id: "log-in-again", class: "button primary" }, "Log in again");
    link.addEventListener("click", () => store(key, work()));
    notice = make("div", { id: "session-lost", class: "notice error", role: "alert" },
      make("p", null, "You are logged out (the session ended), so the ranking was not sent. Your ranking is kept: " +
        "log in again and it is back on this page."),
      link);
    before.before(notice);
    link.focus();
  });
  window.addEventListener("pagehide", () => { if (notice) store(key, work()); });
  return takeKeptWork(key);
}

/* The notice once kept work is back (or could not be, because the task went to someone else). */
export function keptWorkNotice(kept, task) {
  if (!kept) return "";
  return task && task.itemId === kept.itemId
    ? "You are logged in again: your ranking so far is back. Check it and submit."
    : "You are logged in again, but that task went back to the queue meanwhile. Here is the next one.";
}
