/* A "Flag" control on each response card: the project's flags as checkboxes in a
 * disclosure, so one response can be marked (harmful, factually wrong...) apart from the
 * task as a whole. It lives in the card's footer, away from the drag handle, and its
 * checkboxes leave the number keys to the ranking. */

import { make } from "./dom.js";

function flagLabel(flag) {
  const text = String(flag).replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function summaryText(count) {
  return count ? `Flagged (${count})` : "Flag";
}

export function flagControl(r, flags) {
  if (!flags || !flags.length) return null;
  const summary = make("summary", {
    class: "button small", "aria-label": `Flag response ${r.num}`,
  }, summaryText(0));
  const details = make("details", {
    class: "response-flag", dataset: { flagsFor: String(r.id) },
    onchange: () => {
      const count = details.querySelectorAll("input:checked").length;
      summary.textContent = summaryText(count);
      summary.setAttribute("aria-label", count
        ? `Response ${r.num} flagged: ${count} flag${count === 1 ? "" : "s"}. Change flags`
        : `Flag response ${r.num}`);
      details.classList.toggle("is-flagged", count > 0);
    },
    // Esc closes the menu (and goes no further: it would also cancel a tie).
    onkeydown: (event) => {
      if (event.key !== "Escape" || !details.open) return;
      event.preventDefault();
      details.open = false;
      summary.focus();
    },
  }, summary,
  make("fieldset", { class: "response-flag-menu" },
    make("legend", { class: "visually-hidden" }, `Flags for response ${r.num}`),
    ...flags.map((flag) => make("label", null,
      make("input", { type: "checkbox", name: `response-flag-${r.id}`, value: flag }),
      ` ${flagLabel(flag)}`))));
  return details;
}

/* {"<response id>": [flag, ...]} of the responses that have any. */
export function readResponseFlags(container) {
  const out = {};
  for (const control of container.querySelectorAll("details[data-flags-for]")) {
    const checked = Array.from(control.querySelectorAll("input:checked"), (input) => input.value);
    if (checked.length) out[control.dataset.flagsFor] = checked;
  }
  return out;
}

export function setResponseFlags(container, flagsById = {}) {
  for (const control of container.querySelectorAll("details[data-flags-for]")) {
    const wanted = flagsById[control.dataset.flagsFor] || [];
    for (const input of control.querySelectorAll("input")) input.checked = wanted.includes(input.value);
    control.dispatchEvent(new Event("change"));
  }
}
