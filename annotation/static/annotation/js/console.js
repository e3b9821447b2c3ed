/* The manager's console, enhanced: the guideline preview follows the typing (rendered by
 * the server, as annotators will see it), and removing a member asks first. Every form
 * works without this file. */

import { describeError } from "./api.js";

const PREVIEW_DELAY_MS = 250;

function csrfToken(form) {
  const field = form.querySelector("input[name=csrfmiddlewaretoken]");
  return field ? field.value : "";
}

function livePreview(form) {
  const text = form.querySelector("textarea[name=text]");
  const preview = document.getElementById("guideline-preview");
  if (!text || !preview) return;
  let timer = null;
  let sent = 0;

  async function refresh() {
    const mine = ++sent;
    preview.dataset.state = "loading";
    try {
      const response = await fetch(preview.dataset.url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(form), Accept: "application/json" },
        body: new URLSearchParams({ text: text.value }),
      });
      const body = await response.json().catch(() => null);
      if (mine !== sent) return; // a newer keystroke's answer is on its way
      if (!response.ok) throw new Error(describeError(response.status, body).message);
      // Safe: the server renders and sanitises (annotation.rendering.markdown_to_html).
      preview.innerHTML = body.html;
      preview.dataset.state = "ready";
    } catch (error) {
      if (mine !== sent) return;
      preview.dataset.state = "error";
      preview.textContent = `The preview is unavailable: ${error.message}`;
    }
  }

  text.addEventListener("input", () => {
    clearTimeout(timer);
    preview.dataset.state = "loading";
    timer = setTimeout(refresh, PREVIEW_DELAY_MS);
  });
}

function confirmBeforeSubmit(form) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}

document.documentElement.classList.add("js");
const guidelineForm = document.getElementById("guideline-form");
if (guidelineForm) livePreview(guidelineForm);
document.querySelectorAll("form[data-confirm]").forEach(confirmBeforeSubmit);
