/* Words and light formatting for the page, without the DOM. */

export function ordinal(n) {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${{ 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th"}`;
}

/* What users write is shown as text with a little structure: paragraphs, line breaks,
 * ``` fenced code blocks and `inline code`. Blocks are
 *   {type: "paragraph", lines: [[{text, code}], ...]} and {type: "code", lang, text}. */
export function parseText(text) {
  const blocks = [];
  const lines = String(text == null ? "" : text).replace(/\r\n?/g, "\n").split("\n");
  let paragraph = [];
  let code = null;

  function flushParagraph() {
    if (!paragraph.length) return;
    blocks.push({ type: "paragraph", lines: paragraph.map(inlineSegments) });
    paragraph = [];
  }

  function flushCode() {
    blocks.push({ type: "code", lang: code.lang, text: code.lines.join("\n") });
    code = null;
  }

  for (const line of lines) {
    const fence = /^\s*```\s*([\w+#.-]*)\s*$/.exec(line);
    if (code) {
      // Only a bare fence closes a block: one naming a language is part of the code.
      if (fence && !fence[1]) flushCode();
      else code.lines.push(line);
    } else if (fence) {
      flushParagraph();
      code = { lang: fence[1], lines: [] };
    } else if (!line.trim()) {
      flushParagraph();
    } else {
      paragraph.push(line);
    }
  }
  if (code) flushCode();
  flushParagraph();
  return blocks;
}

export function inlineSegments(line) {
  const parts = line.split("`");
  // An odd number of pieces means the backticks pair up; otherwise show them literally.
  if (parts.length < 3 || parts.length % 2 === 0) return [{ text: line, code: false }];
  return parts
    .map((part, i) => ({ text: part, code: i % 2 === 1 }))
    .filter((segment) => segment.code || segment.text);
}

/* A chat item's turns, or its single prompt as one user turn. */
export function conversationOf(item) {
  if (Array.isArray(item.messages) && item.messages.length) {
    return item.messages.map((m) => ({ role: String(m.role || "user"), content: m.content }));
  }
  return [{ role: "user", content: item.prompt }];
}

export function roleLabel(role) {
  const known = { user: "User", human: "User", assistant: "Assistant", system: "System" };
  return known[role.toLowerCase()] || role.charAt(0).toUpperCase() + role.slice(1);
}

export function roleClass(role) {
  return `turn-${role.toLowerCase().replace(/[^a-z]/g, "")}`;
}

/* "#2 = #3  ≻  #1": a ranking of response ids told by the numbers the annotator saw. */
export function rankingText(responses, tiers) {
  const num = (id) => {
    const r = responses.find((x) => x.id === id);
    return r ? `#${r.num}` : `?${id}`;
  };
  return tiers.map((tier) => tier.map(num).join(" = ")).join("  ≻  ");
}

/* What a screen reader hears after each change, as sighted users see the tray. */
export function rankingAnnouncement(responses, tiers) {
  const num = (id) => responses.find((r) => r.id === id).num;
  const parts = tiers.map((tier, i) => `${ordinal(i + 1)}: ${tier.map((id) => `response ${num(id)}`).join(" and ")}`);
  const left = responses.length - tiers.reduce((n, t) => n + t.length, 0);
  return `${parts.join("; ") || "Nothing ranked"}. ${left ? `${left} left.` : "All ranked."}`;
}

export function progressText({ labels, skips }) {
  return `${labels} label${labels === 1 ? "" : "s"} this session` + (skips ? ` · ${skips} skipped` : "");
}
