/* The quality figures as the dashboard shows them: number formats, and the answers of
 * agreement/, annotators/ and progress/ (docs: README "Label quality") shaped into what
 * charts.js and table.js draw. No DOM. */

const present = (v) => typeof v === "number" && Number.isFinite(v);
export const DASH = "–";

export function fixed(v, digits = 2) {
  return present(v) ? v.toFixed(digits) : DASH;
}

export function percent(v, digits = 0) {
  return present(v) ? `${(100 * v).toFixed(digits)}%` : DASH;
}

/* "0.31 to 0.52" for a [lo, hi] interval; "" when there is none. */
export function interval(ci, format = fixed) {
  return Array.isArray(ci) && present(ci[0]) && present(ci[1]) ? `${format(ci[0])} to ${format(ci[1])}` : "";
}

export function seconds(v) {
  if (!present(v)) return DASH;
  if (v < 60) return `${v < 10 ? v.toFixed(1) : Math.round(v)} s`;
  return `${(v / 60).toFixed(1)} min`;
}

export function pValue(p) {
  if (!present(p)) return DASH;
  if (p < 0.001) return "< 0.001";
  return p < 0.01 ? p.toFixed(3) : p.toFixed(2);
}

export function words(code) {
  return String(code).replace(/_/g, " ");
}

export const REASONS = {
  low_agreement: "Low agreement",
  flagged: "Flagged",
  gold_disagreement: "Disagrees with gold",
  low_confidence: "Low confidence",
};

export function reasonLabel(reason) {
  return REASONS[reason] || words(reason).replace(/^./, (c) => c.toUpperCase());
}

// ---------------------------------------------------------------- agreement/

/* The headline tiles: each {key, label, value (text), ci (text), raw}. */
export function headline(agreement) {
  const a = agreement || {};
  const alpha = a.krippendorff_alpha || {};
  const ci = a.ci || {};
  const level = present(ci.confidence) ? `${Math.round(100 * ci.confidence)}% CI` : "CI";
  const tile = (key, label, raw, range, format = fixed) => ({
    key, label, raw, value: format(raw), ci: interval(range, format) ? `${level} ${interval(range, format)}` : "",
  });
  return [
    tile("alpha_nominal", "Krippendorff α (nominal)", alpha.nominal, ci.alpha_nominal),
    tile("alpha_ordinal", "Krippendorff α (ordinal)", alpha.ordinal, ci.alpha_ordinal),
    tile("fleiss_kappa", "Fleiss κ", a.fleiss_kappa, ci.fleiss_kappa),
    tile("percent_agreement", "Percent agreement", a.percent_agreement, ci.percent_agreement, percent),
    { key: "kendall_w", label: "Kendall W", raw: a.kendall_w, value: fixed(a.kendall_w),
      ci: present(a.kendall_w_items) ? `over ${a.kendall_w_items} item${a.kendall_w_items === 1 ? "" : "s"} ranked by all` : "" },
  ];
}

/* Weekly α (nominal) with its CI band and percent agreement, for lineChart. */
export function weeklySeries(weekly) {
  const weeks = Array.isArray(weekly) ? weekly : [];
  return {
    labels: weeks.map((w) => w.week),
    series: [
      { name: "α nominal", className: "alpha", values: weeks.map((w) => (w.krippendorff_alpha || {}).nominal ?? null),
        band: weeks.map((w) => (w.ci && Array.isArray(w.ci.alpha_nominal) ? w.ci.alpha_nominal : null)) },
      { name: "Percent agreement", className: "percent", values: weeks.map((w) => w.percent_agreement ?? null) },
    ],
  };
}

/* The y axis of the weekly chart: [0, 1], widened downwards when some α is below zero
 * (α is negative for agreement worse than chance). */
export function weeklyDomain({ series }) {
  const lows = series.flatMap((s) => [...s.values, ...(s.band || []).map((b) => (b ? b[0] : null))]).filter(present);
  const low = Math.min(0, ...lows);
  return [low < 0 ? Math.floor(low * 5) / 5 : 0, 1];
}

/* Cohen's κ per annotator pair as a symmetric matrix: `labels` are usernames in the
 * order of their ids; `cell(i, j)` for the heatmap (the diagonal stays blank). */
export function kappaMatrix(pairs, { minUnits = null } = {}) {
  const names = new Map();
  const byPair = new Map();
  for (const p of Array.isArray(pairs) ? pairs : []) {
    names.set(p.a, p.a_username || `#${p.a}`);
    names.set(p.b, p.b_username || `#${p.b}`);
    byPair.set(`${p.a}:${p.b}`, p);
    byPair.set(`${p.b}:${p.a}`, p);
  }
  const ids = [...names.keys()].sort((x, y) => x - y);
  const labels = ids.map((id) => names.get(id));
  const cell = (i, j) => {
    if (i === j) return null;
    const p = byPair.get(`${ids[i]}:${ids[j]}`);
    if (!p) return { value: null, title: `${labels[i]} and ${labels[j]}: no items in common` };
    const few = !present(p.kappa) && minUnits !== null ? ` (fewer than ${minUnits})` : "";
    return {
      value: present(p.kappa) ? p.kappa : null,
      title: `${labels[i]} and ${labels[j]}: κ = ${fixed(p.kappa)} over ${p.n} pair vote${p.n === 1 ? "" : "s"}${few}`,
    };
  };
  return { ids, labels, cell };
}

// ---------------------------------------------------------------- annotators/

export const BIAS_P = 0.01;

/* First-shown win share per annotator, highlighted where p < BIAS_P. */
export function biasRows(annotators) {
  return annotators.map((a) => {
    const bias = a.position_bias || {};
    const strong = present(bias.p_value) && bias.p_value < BIAS_P;
    return {
      label: a.username, value: present(bias.first_wins) ? bias.first_wins : null, highlight: strong,
      title: `${a.username}: the response shown first won ${percent(bias.first_wins)} of ${bias.n || 0} pairs` +
        (present(bias.p_value) ? `, p = ${pValue(bias.p_value)}` : "") + (strong ? " (position bias)" : ""),
    };
  });
}

export function goldRows(annotators) {
  return annotators.map((a) => ({
    label: a.username, value: present(a.gold_accuracy) ? a.gold_accuracy : null,
    title: `${a.username}: ${percent(a.gold_accuracy)} right on ${a.gold_labels || 0} gold label${a.gold_labels === 1 ? "" : "s"}`,
    highlight: (a.flags || []).includes("low_gold_accuracy"),
  }));
}

/* Every field of an annotators/ row, in the order of the table and of the CSV:
 * {key, label, value(row) (what sorts), text(row) (what shows), numeric, title}. */
export const ANNOTATOR_FIELDS = [
  { key: "username", label: "Annotator", value: (r) => r.username, text: (r) => r.username },
  { key: "role", label: "Role", value: (r) => r.role, text: (r) => r.role },
  { key: "status", label: "Status", value: (r) => r.status, text: (r) => r.status },
  { key: "trust", label: "Trust", numeric: true, value: (r) => r.trust, text: (r) => fixed(r.trust),
    title: "Combined trust score, 0 to 1" },
  { key: "labels", label: "Labels", numeric: true, value: (r) => r.labels, text: (r) => String(r.labels ?? DASH) },
  { key: "gold_labels", label: "Gold labels", numeric: true, value: (r) => r.gold_labels, text: (r) => String(r.gold_labels ?? DASH) },
  { key: "gold_accuracy", label: "Gold accuracy", numeric: true, value: (r) => r.gold_accuracy, text: (r) => percent(r.gold_accuracy) },
  { key: "agreement", label: "Agreement", numeric: true, value: (r) => r.agreement, text: (r) => percent(r.agreement),
    title: "Share of pair votes equal to the other annotators' majority" },
  { key: "median_seconds", label: "Median time", numeric: true, value: (r) => r.median_seconds, text: (r) => seconds(r.median_seconds) },
  { key: "speed_ratio", label: "Speed ratio", numeric: true, value: (r) => r.speed_ratio, text: (r) => fixed(r.speed_ratio),
    title: "Median time against the project's median" },
  { key: "first_wins", label: "First-shown wins", numeric: true, value: (r) => (r.position_bias || {}).first_wins,
    text: (r) => percent((r.position_bias || {}).first_wins) },
  { key: "bias_p", label: "Bias p", numeric: true, value: (r) => (r.position_bias || {}).p_value,
    text: (r) => pValue((r.position_bias || {}).p_value), title: "Two-sided binomial test against 0.5" },
  { key: "tie_rate", label: "Tie rate", numeric: true, value: (r) => r.tie_rate, text: (r) => percent(r.tie_rate) },
  { key: "longest_run", label: "Longest run", numeric: true, value: (r) => (r.straight_lining || {}).longest_run,
    text: (r) => String((r.straight_lining || {}).longest_run ?? DASH), title: "Most labels in a row with the same ranking pattern" },
  { key: "modal_share", label: "Modal share", numeric: true, value: (r) => (r.straight_lining || {}).modal_share,
    text: (r) => percent((r.straight_lining || {}).modal_share), title: "Share of labels with the most common pattern" },
  { key: "skips", label: "Skips", numeric: true, value: (r) => r.skips, text: (r) => String(r.skips ?? DASH) },
  { key: "skip_rate", label: "Skip rate", numeric: true, value: (r) => r.skip_rate, text: (r) => percent(r.skip_rate) },
  { key: "flags", label: "Flags", value: (r) => r.flags || [], text: (r) => (r.flags || []).map(words).join(", ") },
  { key: "reason", label: "Why", value: (r) => r.reason || null, text: (r) => r.reason || "" },
];

// ---------------------------------------------------------------- progress/

export function completion(progress) {
  const p = progress || {};
  const total = present(p.n_items) ? p.n_items : 0;
  const done = present(p.n_done) ? p.n_done : 0;
  return { done, total, share: total ? Math.min(1, done / total) : 0 };
}

/* The last 24 hours of labels as columns, labelled every `every` hours by local time. */
export function hourlyColumns(perHour, { every = 6, locale } = {}) {
  const hours = Array.isArray(perHour) ? perHour : [];
  return hours.map((h, i) => {
    const when = new Date(h.hour);
    const clock = Number.isNaN(when.getTime()) ? String(h.hour)
      : when.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
    return {
      label: clock, value: h.labels, tick: (hours.length - 1 - i) % every === 0 ? clock : null,
      title: `${h.labels} label${h.labels === 1 ? "" : "s"} in the hour from ${clock}`,
    };
  });
}
