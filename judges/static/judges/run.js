// A queued or running judge run's page follows the run: every two seconds it reads
// GET /api/v1/judge-runs/{id}/ and shows the status, progress and counts; once the run has
// finished the page is loaded again, so that it shows the outcome and drops Cancel.
const card = document.getElementById("run");
const url = card && card.dataset.follow;
const FINISHED = ["succeeded", "failed", "cancelled"];

async function follow() {
  let run;
  try {
    const answer = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!answer.ok) return;
    run = await answer.json();
  } catch {
    return; // offline for a moment: the next tick tries again
  }
  const percent = Math.round(run.progress * 100);
  document.getElementById("run-status").textContent = run.status;
  document.getElementById("run-progress").value = percent;
  document.getElementById("run-percent").textContent = `${percent}%`;
  for (const key of ["n_items", "n_judged", "n_unparseable", "n_skipped"]) {
    document.getElementById(`run-${key}`).textContent = run[key];
  }
  if (FINISHED.includes(run.status) && card.dataset.status !== run.status) {
    window.location.reload();
  }
}

if (url) setInterval(follow, 2000);
