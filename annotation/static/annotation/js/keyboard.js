/* Keyboard shortcuts. `shortcutFor` decides what a key means from the page's state, so the
 * rules can be read (and tested) apart from the listener that carries them out. */

export function isTyping(target) {
  if (!target || !target.tagName) return false;
  if (target.isContentEditable || target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
  return target.tagName === "INPUT" && !["checkbox", "radio", "button", "submit"].includes(target.type);
}

/* `event`: {key, target, ctrlKey, metaKey, altKey}. `page`: {dialogOpen, view, busy,
 * dragging, size, complete, tie}. Answers {action, value?, prevent?} or null. */
export function shortcutFor(event, page) {
  if (page.dialogOpen) return null;  // dialogs handle their own keys
  const { key } = event;
  if (isTyping(event.target)) {
    if (key === "Escape") return { action: "blur" };
    if (key === "Enter" && (event.ctrlKey || event.metaKey) && page.view === "task") {
      return { action: "submit", prevent: true };
    }
    return null;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return null;
  if (key === "?") return { action: "shortcuts", prevent: true };
  if (page.view !== "task" || page.busy || page.dragging) return null;
  if (/^[1-9]$/.test(key)) {
    const n = Number(key);
    // Once a pair is ranked the numbers mean strength: 1 slightly … 3 much better.
    if (page.size === 2 && page.complete) {
      return !page.tie && n <= 3 ? { action: "strength", value: n, prevent: true } : { action: "none", prevent: true };
    }
    return { action: "pick", value: n, prevent: true };
  }
  if (key === "t" || key === "T") return { action: "tie", prevent: true };
  if (key === "Backspace" || key === "u" || key === "U") return { action: "undo", prevent: true };
  if (key === "Enter") {
    // Enter on a focused button or link activates that control instead.
    if (event.target && event.target.closest && event.target.closest("button, a, summary")) return null;
    return { action: "submit", prevent: true };
  }
  if (key === "s" || key === "S") return { action: "skip", prevent: true };
  if (key === "Escape") return { action: "escape" };
  return null;
}

/* `handlers[action](value)` for each shortcut; "blur" leaves the text box by itself. */
export function bindKeyboard(target, { page, handlers }) {
  target.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.isComposing) return;
    const shortcut = shortcutFor(event, page());
    if (!shortcut) return;
    if (shortcut.prevent) event.preventDefault();
    if (shortcut.action === "blur") event.target.blur();
    else if (handlers[shortcut.action]) handlers[shortcut.action](shortcut.value);
  });
}
