/* Dragging responses into, within and out of the ranking. Pointer events rather than HTML5
 * drag and drop: the same code serves mouse, pen and touch, and the drop target is
 * whatever [data-drop] element is under the pointer. */

import { make } from "./dom.js";

/* `area`: where drags start ([data-drag] handles). `canStart()`: whether a drag may begin.
 * `label(id)`: text of the ghost that follows the pointer. `onDrop({id, drop, index})`
 * with the target's data-drop and data-index. Answers {pending()}: true from press to
 * release, while keys must not change the ranking under the pointer. */
export function bindDragAndDrop({ root, area, canStart, label, onDrop }) {
  let drag = null;

  function dropTargetAt(x, y) {
    const under = document.elementFromPoint(x, y);
    return under ? under.closest("[data-drop]") : null;
  }

  function highlight(target) {
    if (drag.target === target) return;
    if (drag.target) drag.target.classList.remove("drop-over");
    drag.target = target;
    if (target) target.classList.add("drop-over");
  }

  area.addEventListener("pointerdown", (event) => {
    const handle = event.target.closest("[data-drag]");
    if (!handle || event.button !== 0 || event.target.closest("button") || !canStart()) return;
    drag = {
      id: Number(handle.dataset.drag), pointerId: event.pointerId,
      x: event.clientX, y: event.clientY, active: false, ghost: null, target: null,
    };
    event.preventDefault();
  });

  window.addEventListener("pointermove", (event) => {
    if (!drag || event.pointerId !== drag.pointerId) return;
    if (!drag.active) {
      // A few pixels of slack, so that a click on a handle is not a drag.
      if (Math.hypot(event.clientX - drag.x, event.clientY - drag.y) < 6) return;
      drag.active = true;
      root.classList.add("dragging");
      drag.ghost = make("div", { class: "drag-ghost", "aria-hidden": "true" }, label(drag.id));
      document.body.append(drag.ghost);
    }
    drag.ghost.style.transform = `translate(${event.clientX + 12}px, ${event.clientY + 12}px)`;
    highlight(dropTargetAt(event.clientX, event.clientY));
    const edge = 48;
    if (event.clientY < edge) window.scrollBy(0, -12);
    else if (event.clientY > window.innerHeight - edge) window.scrollBy(0, 12);
  });

  function endDrag(event, drop) {
    if (!drag || event.pointerId !== drag.pointerId) return;
    const { id, active } = drag;
    const target = active && drop ? dropTargetAt(event.clientX, event.clientY) : null;
    if (drag.target) drag.target.classList.remove("drop-over");
    if (drag.ghost) drag.ghost.remove();
    root.classList.remove("dragging");
    drag = null;
    if (target) onDrop({ id, drop: target.dataset.drop, index: Number(target.dataset.index) });
  }

  window.addEventListener("pointerup", (event) => endDrag(event, true));
  window.addEventListener("pointercancel", (event) => endDrag(event, false));

  return { pending: () => drag !== null };
}
