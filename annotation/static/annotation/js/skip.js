/* The skip dialog asks why, so that a manager can fix an item that is broken. */

/* "The prompt or a response is broken: response 2 is empty"; "Other" if nothing was said. */
export function skipReason(chosen, details) {
  const text = String(details || "").trim();
  return [chosen && chosen !== "Other" ? chosen : "", text].filter(Boolean).join(": ") || "Other";
}

/* `onSkip(reason)` runs when the dialog is closed with its Skip button. */
export function bindSkipDialog({ dialog, form, details, cancel, onSkip }) {
  const checked = () => form.querySelector("input[name=skip-reason]:checked");
  details.addEventListener("input", () => {
    if (!checked()) form.querySelector("input[name=skip-reason][value=Other]").checked = true;
  });
  cancel.addEventListener("click", () => dialog.close(""));
  dialog.addEventListener("close", () => {
    if (dialog.returnValue !== "skip") return;
    const chosen = checked();
    onSkip(skipReason(chosen ? chosen.value : null, details.value));
  });
  return {
    open() {
      form.reset();
      dialog.returnValue = "";
      dialog.showModal();
    },
    /* Closing without a reason skips nothing. */
    dismiss() {
      if (dialog.open) dialog.close("");
    },
  };
}
