/* The ranking an annotator builds: tiers of response ids, best first, where a tier of more
 * than one is a tie. Every change is undoable, and a change that leaves the tiers as they
 * were is no change (nothing to undo). */

export class Ranking {
  constructor(responseIds, { tiers = [], history = [] } = {}) {
    this.ids = new Set(responseIds);
    this.tiers = copy(tiers);
    this.history = history.map(copy);
  }

  get size() {
    return this.ids.size;
  }

  get placed() {
    return this.tiers.reduce((n, tier) => n + tier.length, 0);
  }

  get left() {
    return this.size - this.placed;
  }

  get complete() {
    return this.placed === this.size;
  }

  get hasTie() {
    return this.tiers.some((tier) => tier.length > 1);
  }

  get canUndo() {
    return this.history.length > 0;
  }

  /* A tie needs a place to join, and something left to put there. */
  get canTie() {
    return this.tiers.length > 0 && !this.complete;
  }

  tierOf(id) {
    return this.tiers.findIndex((tier) => tier.includes(id));
  }

  /* A new tier of its own at `index` (0 = best), counted among the tiers as they are now,
   * so that dropping a response into the gap it is shown next to means what it shows. */
  placeAt(id, index) {
    if (!Number.isInteger(index) || index < 0 || index > this.tiers.length) return false;
    return this.change(id, (rest) => [...rest.slice(0, index), [id], ...rest.slice(index)]);
  }

  joinTier(id, index) {
    if (!Number.isInteger(index) || index < 0 || index >= this.tiers.length) return false;
    return this.change(id, (rest) => rest.map((tier, i) => (i === index ? [...tier, id] : tier)));
  }

  unrank(id) {
    return this.change(id, (rest) => rest);
  }

  /* The next place, or a tie with the last one. An id already ranked stays where it is. */
  pick(id, { tie = false } = {}) {
    if (this.tierOf(id) >= 0) return false;
    if (tie && this.tiers.length) return this.joinTier(id, this.tiers.length - 1);
    return this.placeAt(id, this.tiers.length);
  }

  undo() {
    if (!this.history.length) return false;
    this.tiers = this.history.pop();
    return true;
  }

  /* `mutate` gets the tiers with `id` taken out but the emptied tier still in place, so
   * that indices keep meaning the tiers as the annotator saw them. */
  change(id, mutate) {
    if (!this.ids.has(id)) return false;
    const before = copy(this.tiers);
    const after = mutate(before.map((tier) => tier.filter((x) => x !== id))).filter((t) => t.length);
    if (JSON.stringify(after) === JSON.stringify(before)) return false;
    this.history.push(before);
    this.tiers = after;
    return true;
  }

  snapshot() {
    return { tiers: copy(this.tiers), history: this.history.map(copy) };
  }
}

function copy(tiers) {
  return tiers.map((tier) => tier.slice());
}

/* Strength says how much better the first of a pair is, so it exists only for two
 * responses, and not when they are tied. */
export function strengthApplies(ranking) {
  return ranking.size === 2 && !ranking.hasTie;
}

/* The body of POST /assignments/{id}/submit/ (and of a revision). Flags on single
 * responses turn `flags` into {"task": [...], "<response id>": [...]}. */
export function submission(ranking, { durationMs, strength = null, flags = [], rationale = "",
  responseFlags = {} }) {
  if (!ranking.complete) throw new Error(`${ranking.left} responses are not ranked yet.`);
  const body = { ranking: copy(ranking.tiers), duration_ms: durationMs };
  if (strength && strengthApplies(ranking)) body.strength = strength;
  const perResponse = Object.entries(responseFlags).filter(([, list]) => list && list.length);
  if (perResponse.length) {
    body.flags = { task: [...flags] };
    for (const [id, list] of perResponse) body.flags[id] = [...list];
  } else if (flags.length) body.flags = [...flags];
  const why = String(rationale || "").trim();
  if (why) body.rationale = why;
  return body;
}
