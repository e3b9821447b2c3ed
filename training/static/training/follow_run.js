/* Follow a training run shown in a #latest-run card (its data-follow URL): status and
 * progress bar every two seconds, then a reload once the run finished so that versions and
 * the loss curve show. Shared by the reward-models and policies pages. */

import { ApiError } from "../annotation/js/api.js";

export function followRun(api, card = document.getElementById("latest-run")) {
  const followUrl = card && card.dataset.follow;
  if (!followUrl) return;
  const status = document.getElementById("run-status");
  const bar = document.getElementById("run-progress");
  const timer = setInterval(async () => {
    let run;
    try {
      ({ data: run } = await api.get(followUrl));
    } catch (error) {
      if (error instanceof ApiError) return;  // try again on the next tick
      throw error;
    }
    status.textContent = run.status;
    bar.style.width = `${Math.round(100 * run.progress)}%`;
    if (run.status === "succeeded" || run.status === "failed") {
      clearInterval(timer);
      window.location.reload();
    }
  }, 2000);
}
