/* The annotator's progress as the server counts it (GET /projects/{id}/my-progress/), so
 * that every tab and every session shows the same numbers. It is read again after each
 * submit or skip, and when the tab comes back into view. */

/* "Project: 12 of 40 labels · your labels: 5": the project's labels (each item counted up to the
 * overlap, so the second number is items × overlap) and the caller's own, all sessions. */
export function serverProgressText(p) {
  const done = Number(p.done) || 0;
  const needed = Number(p.needed) || 0;
  const mine = Number(p.submitted_by_you) || 0;
  return `Project: ${done} of ${needed} label${needed === 1 ? "" : "s"} · your labels: ${mine}`;
}

export function serverProgressTitle(p) {
  const left = Number(p.left_for_you) || 0;
  return `Labels the project has of the ${p.needed} it needs (${p.items_total} items × ` +
    `${p.overlap} labels each); ${p.items_complete} items complete; ` +
    `${left} item${left === 1 ? "" : "s"} left for you.`;
}

/* Shows the progress in `el` and keeps it fresh; `get(url)` is the page's API call. */
export function watchProgress({ el, get, url, doc = document, win = window }) {
  let asked = 0;
  async function refresh() {
    const ask = ++asked;
    let res;
    try {
      res = await get(url);
    } catch (_) {
      return;  // the numbers stay as they were; the next refresh tries again
    }
    if (ask !== asked || !res || res.status !== 200 || !res.data) return;
    el.textContent = serverProgressText(res.data);
    el.title = serverProgressTitle(res.data);
    el.dataset.done = String(res.data.done);
    el.dataset.mine = String(res.data.submitted_by_you);
  }
  doc.addEventListener("visibilitychange", () => { if (!doc.hidden) refresh(); });
  win.addEventListener("focus", refresh);
  return { refresh };
}
