/* Building elements. Everything users wrote goes in as text nodes, never as HTML, so a
 * response containing markup is shown, not run. */

import { parseText } from "./text.js";

export function make(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function renderText(text) {
  const out = document.createDocumentFragment();
  for (const block of parseText(text)) {
    if (block.type === "code") {
      out.append(make("pre", { class: "code", "data-lang": block.lang || null }, make("code", null, block.text)));
      continue;
    }
    const p = make("p");
    block.lines.forEach((segments, i) => {
      if (i) p.append(make("br"));
      for (const { text: part, code } of segments) {
        p.append(code ? make("code", null, part) : document.createTextNode(part));
      }
    });
    out.append(p);
  }
  return out;
}
