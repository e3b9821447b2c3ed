/* Reward models page: scores the responses typed into the score box, activates (rolls back
 * to) a version for managers, and follows a running training run until it finishes. Errors
 * are shown in the server's words. */

// Resolved against this file's URL under STATIC_URL, where every app's static files meet.
import { ApiError, createApi, describeError } from "../annotation/js/api.js";
import { followRun } from "./follow_run.js";

const api = createApi();

/* The responses box holds several responses, separated by lines of only "---". */
function splitResponses(text) {
  return text.split(/^\s*---\s*$/m).map((s) => s.trim()).filter((s) => s.length);
}

const form = document.getElementById("score-form");
const out = document.getElementById("score-results");
const err = document.getElementById("score-error");

function showError(message) {
  err.textContent = message;
  err.hidden = false;
}

/* The error's summary and its field lines, never a bare status code. */
function inWords(error) {
  const { message, problems } = describeError(error.status, error.body, { network: error.network });
  return [message, ...problems].join(" ");
}

function scoreItem(score, text, best) {
  const li = document.createElement("li");
  if (score === best) li.className = "best";
  const value = document.createElement("span");
  value.className = "value";
  value.textContent = score.toFixed(3);
  const label = document.createElement("span");
  label.textContent = text.slice(0, 200);
  li.append(value, label);
  return li;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const responses = splitResponses(document.getElementById("score-responses").value);
  err.hidden = true;
  out.hidden = true;
  let data;
  try {
    ({ data } = await api.post(form.dataset.url, {
      prompt: document.getElementById("score-prompt").value, responses,
    }));
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    showError(error.network ? "The scores could not be loaded (network problem)."
      : inWords(error));
    return;
  }
  const best = Math.max(...data.scores);
  out.replaceChildren(...data.scores.map((score, i) => scoreItem(score, responses[i], best)));
  const caption = document.createElement("li");
  caption.className = "muted";
  caption.textContent = `Scored by ${data.model_version}; higher is better.`;
  out.append(caption);
  out.hidden = false;
});

const activateError = document.getElementById("activate-error");

for (const button of document.querySelectorAll("button.activate")) {
  button.addEventListener("click", async () => {
    for (const other of document.querySelectorAll("button.activate")) other.disabled = true;
    activateError.hidden = true;
    try {
      await api.post(button.dataset.url, {});
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      activateError.textContent = error.network
        ? `${button.dataset.name} could not be activated (network problem); try again.`
        : `${button.dataset.name} was not activated: ${inWords(error)}`;
      activateError.hidden = false;
      for (const other of document.querySelectorAll("button.activate")) other.disabled = false;
      return;
    }
    window.location.reload();
  });
}

followRun(api);
