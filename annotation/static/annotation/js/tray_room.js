/* The sticky ranking tray covers the bottom of the viewport. Its height, kept in the
 * --tray-height custom property as it grows and shrinks, is the page's scroll-padding at
 * the bottom (annotate.css): a card button scrolled or tabbed into view lands above the
 * tray, not under it. */

const tray = document.querySelector(".tray");
if (tray && typeof ResizeObserver === "function") {
  const root = document.documentElement;
  new ResizeObserver(() => {
    root.style.setProperty("--tray-height", `${Math.ceil(tray.getBoundingClientRect().height)}px`);
  }).observe(tray);
}
