/* Policies page: samples the active policy from the "Try the policy" box, and follows a
 * running policy run until it finishes. */

// Resolved against this file's URL under STATIC_URL, where every app's static files meet.
import { ApiError, createApi } from "../annotation/js/api.js";
import { followRun } from "./follow_run.js";

const api = createApi();

const form = document.getElementById("try-form");
const output = document.getElementById("try-output");
const err = document.getElementById("try-error");

function numberIn(id) {
  return Number(document.getElementById(id).value);
}

/* The request body of POST .../policies/generate/; an empty seed asks for a random one. */
function generateRequest() {
  const seed = document.getElementById("try-seed").value.trim();
  return {
    prompt: document.getElementById("try-prompt").value,
    max_new_tokens: numberIn("try-max-new-tokens"),
    temperature: numberIn("try-temperature"),
    top_p: numberIn("try-top-p"),
    seed: seed === "" ? null : Number(seed),
  };
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = document.getElementById("try-button");
  err.hidden = true;
  output.hidden = true;
  button.disabled = true;
  let data;
  try {
    ({ data } = await api.post(form.dataset.url, generateRequest()));
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    err.textContent = error.network ? "The policy could not be reached (network problem)."
      : [error.message, ...error.problems].join(" ");
    err.hidden = false;
    return;
  } finally {
    button.disabled = false;
  }
  document.getElementById("try-caption").textContent = `Sampled from ${data.policy_version}:`;
  document.getElementById("try-result").textContent = data.text;
  output.hidden = false;
});

followRun(api);
