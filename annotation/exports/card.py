"""The dataset card of a snapshot: a README.md in the Hugging Face card layout.

A pure function of :class:`CardFacts`, no Django: YAML front matter in the Hub's metadata
schema (``license``, ``task_categories``, ``tags``, ``size_categories``, ``pretty_name``, and
``configs`` whose ``data_files`` point at the Parquet file beside the card, so
``datasets.load_dataset(<folder>)`` reads it), then the sections of the Hub's card template
(huggingface_hub's ``datasetcard_template.md``): details, uses, structure with every column's
meaning, creation with the filters and the annotation process, agreement figures, limits
and licensing.

Size categories are the Hub's buckets (``n<1K``, ``1K<n<10K``, ... ``n>1T``). Scalars in the
front matter are written as JSON strings, which YAML reads as double-quoted scalars, so a
project name cannot break the metadata.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The Hub's size buckets, by their upper bound.
SIZE_CATEGORIES = (
    (1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"), (10_000_000_000, "1B<n<10B"),
    (100_000_000_000, "10B<n<100B"), (1_000_000_000_000, "100B<n<1T"),
)

FORMATS = {
    "trl": "one preference pair per line, TRL's preference format (DPO, reward modelling): "
           "every pair implied by an item's consensus ranking",
    "hh-rlhf": "one preference pair per line as two Anthropic HH-RLHF transcripts",
    "annotations": "one line per counted label, as the annotator gave it",
    "consensus": "one line per item with its consensus ranking of every response",
}

# What each column means, per format (the fields of annotation.exports.formats).
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "trl": (
        ("prompt", "the prompt: a string, or for chat items the message list "
                   "(`[{\"role\", \"content\"}]`) before the answer"),
        ("chosen", "the preferred response: a string, or `[{\"role\": \"assistant\", "
                   "\"content\"}]` for chat items"),
        ("rejected", "the less preferred response, in the same shape as `chosen`"),
        ("item_id", "the item in the project (one item gives several pairs when it has more "
                    "than two responses)"),
        ("agreement", "share of the item's pair votes (its non-imported labels) equal to the "
                      "majority outcome, 0..1; null with fewer than two such labels"),
        ("n_annotations", "the item's non-imported counted labels"),
        ("margin", "how clearly the labels prefer `chosen` (≥ 0): max(0, Σ vote · strength/2 "
                   "/ labels), a vote +1, 0 or -1 and a label without strength counting 1; "
                   "1.0 for unanimous plain labels, 0 for a tie"),
        ("tie", "only with `ties=keep`: true for a pair the consensus ranks equal, else false"),
    ),
    "hh-rlhf": (
        ("chosen", "the transcript `\\n\\nHuman: ... \\n\\nAssistant: ...` ending in the "
                   "preferred response"),
        ("rejected", "the same transcript ending in the less preferred response"),
    ),
    "annotations": (
        ("annotation_id", "the label's id in the project"),
        ("item_id", "the item labelled"),
        ("annotator", "a pseudonym stable within the project (`a_` + 16 hex digits of an "
                      "HMAC of project and user); null for imported labels"),
        ("source", "`human`, `import` or `ai`"),
        ("ranking", "tiers of response ids, best first; ids in one tier are tied"),
        ("ranking_positions", "the same tiers as 0-based positions of the responses"),
        ("display_order", "response ids in the order the annotator was shown them, or null"),
        ("strength", "how strong the preference was, 1..3, or null"),
        ("flags", "flags the annotator attached"),
        ("rationale", "the annotator's explanation, possibly empty"),
        ("duration_ms", "time spent on the label, or null"),
        ("guideline_version", "the guideline version the annotator acknowledged, or null"),
        ("created_at", "when the label was submitted (ISO 8601, UTC)"),
        ("response_flags", "flags on single responses: a list of {response_id, flags}"),
    ),
    "consensus": (
        ("item_id", "the item"),
        ("prompt", "the prompt (plain items)"),
        ("messages", "the message list (chat items)"),
        ("responses", "`[{\"id\", \"position\", \"text\", \"model\"}]`, every response"),
        ("ranking", "the consensus: tiers of response ids, best first"),
        ("ranking_positions", "the same tiers as 0-based positions"),
        ("method", "the consensus method, or `review` where a reviewer decided"),
        ("confidence", "the method's confidence in the ranking, 0..1"),
        ("agreement", "share of human pair votes agreeing with the majority, 0..1, or null"),
        ("n_labels", "labels the consensus read (human and imported)"),
        ("n_annotations", "counted labels of the item"),
        ("review", "`{\"decision\", \"note\", \"created_at\"}` of the deciding review, or null"),
    ),
}

AGREEMENT_FIGURES = (
    ("percent_agreement", "percent_agreement", "Percent agreement"),
    ("alpha_nominal", "krippendorff_alpha.nominal", "Krippendorff's α (nominal)"),
    ("alpha_ordinal", "krippendorff_alpha.ordinal", "Krippendorff's α (ordinal)"),
    ("fleiss_kappa", "fleiss_kappa", "Fleiss' κ"),
)


@dataclass(frozen=True)
class FileFacts:
    name: str
    size_bytes: int
    sha256: str
    rows: int | None = None


@dataclass(frozen=True)
class CardFacts:
    """Everything the card says; the card is a function of these alone."""

    project_id: int
    project_name: str
    snapshot_id: str
    format: str
    params: Mapping[str, Any]  # the export parameters (ExportParams.as_dict())
    consensus: str  # the consensus method the export used
    license: str
    rows: int
    n_annotations: int
    n_reviews: int
    n_items: int
    n_annotators: int
    guideline_versions: Sequence[int] = ()  # of the labels in the snapshot
    current_guideline_version: int | None = None
    created_at: datetime | None = None
    files: Sequence[FileFacts] = ()
    agreement: Mapping[str, Any] | None = None  # annotation.quality.selectors.agreement_report
    data_file: str = "data.parquet"
    description: str = ""
    extra_tags: Sequence[str] = field(default_factory=tuple)


def size_category(n: int) -> str:
    """The Hub's size bucket of a dataset with ``n`` rows."""
    for bound, name in SIZE_CATEGORIES:
        if n < bound:
            return name
    return "n>1T"


def render(facts: CardFacts) -> str:
    """The README.md of a snapshot."""
    sections = [
        _front_matter(facts),
        f"# Dataset Card for {_md(facts.project_name)}\n\n{_summary(facts)}",
        _details(facts),
        _uses(facts),
        _structure(facts),
        _creation(facts),
        _limitations(facts),
        "## Dataset Card Contact\n\nThe managers of the project on the Rankwise server that "
        "built this snapshot.",
    ]
    return "\n\n".join(section.rstrip("\n") for section in sections) + "\n"


# --- sections -------------------------------------------------------------------------------


def _front_matter(facts: CardFacts) -> str:
    tags = ["rlhf", "preference", "human-feedback", "rankwise", facts.format,
            *(["trl"] if facts.format == "trl" else []), *facts.extra_tags]
    lines = [
        "---",
        f"pretty_name: {_yaml(facts.project_name)}",
        f"license: {_yaml(facts.license)}",
        "task_categories:",
        "- text-generation",
        "tags:",
        *(f"- {_yaml(tag)}" for tag in dict.fromkeys(tags)),
        "size_categories:",
        f"- {_yaml(size_category(facts.rows))}",
        "configs:",
        "- config_name: default",
        "  data_files:",
        f"  - split: {_yaml(_split(facts))}",
        f"    path: {_yaml(facts.data_file)}",
        "---",
    ]
    return "\n".join(lines)


def _summary(facts: CardFacts) -> str:
    return (f"A snapshot of the Rankwise project {_md(facts.project_name)} (project "
            f"{facts.project_id}): {facts.rows:,} rows in the `{facts.format}` format, built "
            f"from {facts.n_annotations:,} labels on {facts.n_items:,} items and "
            f"{facts.n_reviews:,} reviews.")


def _details(facts: CardFacts) -> str:
    built = facts.created_at.strftime("%Y-%m-%d %H:%M UTC") if facts.created_at else "—"
    description = _md(facts.description.strip()) if facts.description.strip() else \
        f"Human preference rankings of model responses: {FORMATS.get(facts.format, '')}."
    lines = [
        "## Dataset Details", "", "### Dataset Description", "", description, "",
        f"- **Curated by:** the managers of the project {_md(facts.project_name)} (id "
        f"{facts.project_id})",
        f"- **Snapshot:** `{facts.snapshot_id}`, built {built}",
        f"- **Format:** `{facts.format}`",
        f"- **Guideline version:** {_guideline(facts)}",
        f"- **Consensus method:** `{facts.consensus}`",
        f"- **License:** `{_md(facts.license)}` (the project's `export.license` setting)",
        "",
        "### Files", "",
        "| file | rows | bytes | sha256 |",
        "|---|---:|---:|---|",
        *(f"| `{f.name}` | {'' if f.rows is None else f'{f.rows:,}'} | {f.size_bytes:,} | "
          f"`{f.sha256}` |" for f in facts.files),
        "",
        "The snapshot is immutable: `manifest.json` lists the id of every label and review "
        "it was built from, and a rebuild from it gives the same bytes. Downloads are named "
        "after the project; keep them as `data.jsonl` / `data.parquet` beside this card for "
        "`datasets.load_dataset` to find them.",
    ]
    return "\n".join(lines)


def _uses(facts: CardFacts) -> str:
    use = {
        "trl": "Preference tuning with TRL (`DPOTrainer`, `RewardTrainer`) or any pairwise "
               "reward-model trainer.",
        "hh-rlhf": "Training code written for Anthropic's HH-RLHF files.",
        "annotations": "Recomputing agreement, fitting another consensus model, studying "
                       "annotators (pseudonymous).",
        "consensus": "Listwise or pairwise reward modelling, and evaluation against the "
                     "consensus ranking.",
    }.get(facts.format, "")
    split = _split(facts)
    return "\n".join([
        "## Uses", "", "### Direct Use", "", use, "", "```python",
        "from datasets import load_dataset", "",
        f'ds = load_dataset("parquet", data_files={{"{split}": "{facts.data_file}"}})["{split}"]',
        "```", "", "### Out-of-Scope Use", "",
        "The rankings say which response these annotators preferred under this guideline; "
        "they are not a check of factual correctness, and the pseudonyms are not for "
        "identifying or ranking people.",
    ])


def _structure(facts: CardFacts) -> str:
    columns = COLUMNS.get(facts.format, ())
    about = FORMATS.get(facts.format, "")
    lines = ["## Dataset Structure", "", about[:1].upper() + about[1:] + ".",
             "", "| column | meaning |", "|---|---|",
             *(f"| `{name}` | {meaning} |" for name, meaning in columns),
             "", f"One split, `{_split(facts)}`, of {facts.rows:,} rows."]
    return "\n".join(lines)


def _creation(facts: CardFacts) -> str:
    filters = sorted((key, value) for key, value in facts.params.items() if key != "format")
    lines = [
        "## Dataset Creation", "", "### Curation Rationale", "",
        "The rows are exactly those of the project's export with these filters, at the time "
        "the snapshot was built:", "",
        "| filter | value |", "|---|---|",
        *(f"| `{key}` | {_value(value)} |" for key, value in filters),
        "", "### Source Data", "", "#### Data Collection and Processing", "",
        "Prompts and candidate responses were imported into the project (Rankwise's native, "
        "hh-rlhf or trl JSON Lines); their text is exported as stored.",
        "", "#### Who are the source data producers?", "",
        "The people and models who wrote the imported prompts and responses; a response "
        "records its model where the import named it.",
        "", "### Annotations", "", "#### Annotation process", "",
        "Annotators ranked each item's responses best first (ties allowed), under the "
        f"project's guideline ({_guideline(facts)}). Labels a reviewer excluded and "
        "practice answers on gold items are never counted; imported labels seed the "
        "consensus but never count as a human annotator. An item's newest accept, rank or "
        f"gold review replaces its consensus. Consensus method: `{facts.consensus}`.",
        "", "#### Who are the annotators?", "",
        f"{facts.n_annotators:,} members of the project labelled the items in this snapshot.",
        "", _agreement(facts),
        "", "#### Personal and Sensitive Information", "",
        "No username appears in the snapshot; the `annotations` format names annotators by a "
        "pseudonym that is stable within the project only. Prompts and responses are as "
        "imported and contain whatever those contained.",
    ]
    return "\n".join(lines)


def _agreement(facts: CardFacts) -> str:
    report = facts.agreement
    head = "#### Agreement"
    if not report:
        return f"{head}\n\nNo agreement figures: the project has no human labels to compare."
    ci = report.get("ci") or {}
    rows = []
    for ci_key, path, label in AGREEMENT_FIGURES:
        rows.append(f"| {label} | {_number(_dig(report, path))} | "
                    f"{_interval(ci.get(ci_key))} |")
    rows.append(f"| Kendall's W | {_number(report.get('kendall_w'))} | |")
    scope = _value(report.get("filters") or {})
    return "\n".join([
        head, "",
        f"Inter-annotator agreement of the project's human labels matching the guideline "
        f"and date filters ({scope}) when the snapshot was built: "
        f"{int(report.get('n_items') or 0):,} items, {int(report.get('n_annotations') or 0):,} "
        f"labels, {int(report.get('n_annotators') or 0):,} annotators. Units are response "
        "pairs within an item; intervals are "
        f"{round(100 * float(ci.get('confidence') or 0.95))}% bootstrap percentiles over "
        f"items ({int(ci.get('samples') or 0)} resamples).", "",
        "| figure | value | interval |", "|---|---:|---|", *rows,
    ])


def _limitations(facts: CardFacts) -> str:
    return ("## Bias, Risks, and Limitations\n\n"
            "The labels are the judgements of this project's annotators under its guideline; "
            "they carry the annotators' and the guideline's preferences, not a ground truth."
            "\n\n### Recommendations\n\n"
            "Consensus rankings of items with few labels are uncertain: filter on `agreement` "
            "or `n_annotations` where that matters, and read the agreement figures above "
            "before training on the rankings.")


# --- helpers --------------------------------------------------------------------------------


def _split(facts: CardFacts) -> str:
    return str(facts.params.get("split") or "train")


def _guideline(facts: CardFacts) -> str:
    asked = facts.params.get("guideline_version")
    versions = ", ".join(str(v) for v in sorted(set(facts.guideline_versions))) or "none"
    current = facts.current_guideline_version
    text = f"labels under version {asked} only" if asked is not None else \
        f"labels under versions {versions}"
    return text + (f"; the project's current version is {current}" if current else
                   "; the project has no guideline")


def _dig(report: Mapping[str, Any], path: str) -> Any:
    value: Any = report
    for key in path.split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _number(value: Any) -> str:
    return "—" if value is None else f"{float(value):.3f}"


def _interval(value: Any) -> str:
    return "" if not value else f"[{float(value[0]):.3f}, {float(value[1]):.3f}]"


def _value(value: Any) -> str:
    if value is None:
        return "—"
    return "`" + json.dumps(value, ensure_ascii=False, sort_keys=True).replace("`", "'") + "`"


def _yaml(text: str) -> str:
    return json.dumps(str(text), ensure_ascii=False)


_MARKDOWN = re.compile(r"([\\`*_{}\[\]<>()#+!|])")


def _md(text: str) -> str:
    """Text that markdown shows as it is, on one line."""
    return _MARKDOWN.sub(r"\\\1", " ".join(str(text).split()))
