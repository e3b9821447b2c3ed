/* Words of the "Your labels" page, apart from the page so they can be tested. */

function flagText(flag) {
  return String(flag).replace(/_/g, " ");
}

/* "Response 2 › Response 1 = Response 3": numbers as the annotator saw the responses. */
export function rankingLine(label) {
  const numOf = (id) => {
    const at = (label.display_order || []).indexOf(id);
    return at >= 0 ? String(at + 1) : "?";
  };
  return (label.ranking || []).map((tier) => tier.map((id) => `Response ${numOf(id)}`).join(" = ")).join(" › ");
}

/* "unsure; response 2: harmful, refusal" (empty when nothing was flagged). */
export function flagLine(label) {
  const parts = [];
  if (label.flags && label.flags.length) parts.push(label.flags.map(flagText).join(", "));
  const order = label.display_order || [];
  const entries = Object.entries(label.response_flags || {})
    .map(([id, flags]) => [order.indexOf(Number(id)) + 1, flags])
    .sort((a, b) => a[0] - b[0]);
  for (const [num, flags] of entries) {
    if (flags && flags.length) parts.push(`response ${num || "?"}: ${flags.map(flagText).join(", ")}`);
  }
  return parts.join("; ");
}

export function labelSummary({ count }) {
  if (!count) return "You have not sent any labels in this project yet.";
  return `${count} label${count === 1 ? "" : "s"} sent, changed ones included.`;
}
