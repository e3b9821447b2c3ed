/* Changing a label already sent: the ranking page opened with ?revise=<label id> loads
 * that label (GET /annotations/{id}/) and shows its item with the earlier answer in place;
 * submitting posts the same body to the label's revise_url. */

export function reviseIdFrom(search) {
  const value = new URLSearchParams(search).get("revise");
  return value && /^[1-9][0-9]{0,17}$/.test(value) ? value : null;
}

/* The label as the task the page shows. */
export function revisionTask(label) {
  return {
    assignment: null, item: label.item, is_practice: false, lease_expires_at: null,
    reason: `changing your label ${label.id}`,
  };
}

/* The earlier answer, in the shape the page keeps work in hand. */
export function revisionResume(label) {
  return {
    itemId: label.item.id,
    responseIds: label.item.responses.map((r) => r.id).sort((a, b) => a - b),
    ranking: { tiers: label.ranking.map((tier) => tier.slice()), history: [] },
    strength: label.strength, rationale: label.why || "", flags: label.flags || [],
    responseFlags: label.response_flags || {},
  };
}

export function revisionNotice(label) {
  const when = new Date(label.submitted_at);
  const sent = Number.isNaN(when.getTime()) ? "" : ` sent ${when.toLocaleString()}`;
  return `You are changing your label${sent}. Your earlier ranking is in place: change it and submit to replace it.`;
}
