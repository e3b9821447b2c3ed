"""The dataset card: Hugging Face's card layout, read back by huggingface_hub's own parser,
and a pure function of what it is told."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import datasets
import huggingface_hub
import pytest
from huggingface_hub import DatasetCard

from annotation.exports import card

TEMPLATE = Path(huggingface_hub.__file__).parent / "templates" / "datasetcard_template.md"
SIZE_NAMES = Path(datasets.__file__).parent / "utils" / "resources" / "size_categories.json"
AGREEMENT = {
    "n_items": 40, "n_annotations": 120, "n_labels": 120, "n_annotators": 3,
    "percent_agreement": 0.8125, "krippendorff_alpha": {"nominal": 0.61, "ordinal": 0.655},
    "fleiss_kappa": 0.6049, "kendall_w": 0.7,
    "ci": {"confidence": 0.95, "samples": 500, "percent_agreement": [0.75, 0.86],
           "alpha_nominal": [0.5, 0.7], "alpha_ordinal": [0.55, 0.74], "fleiss_kappa": None},
    "filters": {"guideline_version": None, "since": None},
}


def facts(**changes) -> card.CardFacts:
    base = dict(
        project_id=7, project_name="Helpfulness", snapshot_id="0b7c6f9e-1d2a-4c3b-8e5f-6a7b8c9d0e1f",
        format="trl", params={"format": "trl", "min_agreement": 0.6, "ties": "drop",
                              "consensus": "majority", "split": None},
        consensus="majority", license="cc-by-4.0", rows=1234, n_annotations=300, n_reviews=2,
        n_items=100, n_annotators=3, guideline_versions=(1, 2), current_guideline_version=2,
        created_at=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
        files=(card.FileFacts("data.jsonl", 5000, "a" * 64, 1234),
               card.FileFacts("data.parquet", 4000, "b" * 64, 1234)),
        agreement=AGREEMENT,
    )
    return card.CardFacts(**{**base, **changes})


def test_the_front_matter_is_hub_metadata_that_huggingface_hub_reads_back():
    parsed = DatasetCard(card.render(facts())).data.to_dict()
    assert parsed["license"] == "cc-by-4.0"
    assert parsed["pretty_name"] == "Helpfulness"
    assert parsed["task_categories"] == ["text-generation"]
    assert parsed["size_categories"] == ["1K<n<10K"]
    assert {"rlhf", "preference", "trl"} <= set(parsed["tags"])
    assert parsed["configs"] == [{"config_name": "default",
                                  "data_files": [{"split": "train", "path": "data.parquet"}]}]


def test_the_split_of_a_split_export_names_the_config_split():
    parsed = DatasetCard(card.render(facts(params={"format": "trl", "split": "test"}))).data
    assert parsed.to_dict()["configs"][0]["data_files"][0]["split"] == "test"


@pytest.mark.parametrize("name", ['Say "hi": a test', "line one\nline two", "---", "a | b *c*",
                                  "ünï — code 🙂", "key: value # not a comment"])
def test_no_project_name_breaks_the_metadata(name):
    rendered = card.render(facts(project_name=name, license="other"))
    parsed = DatasetCard(rendered)
    assert parsed.data.to_dict()["pretty_name"] == name
    assert parsed.data.to_dict()["license"] == "other"
    # The heading stays one line, and a table cell cannot be split by the name.
    heading = next(line for line in rendered.splitlines() if line.startswith("# "))
    assert "\n" not in heading and not re.search(r"(?<!\\)\|", heading)


def test_size_categories_are_the_hubs_buckets():
    names = [n for n in json.loads(SIZE_NAMES.read_text()) if n != "unknown"]
    for index, name in enumerate(names[:-1]):
        bound = 1000 * 10**index  # each bucket ends where the next power of ten begins
        assert card.size_category(bound - 1) == name
        assert card.size_category(bound) == names[index + 1]
    assert card.size_category(0) == names[0]


def test_the_card_has_every_required_section_of_the_hub_template_in_order():
    required = [re.sub(r"\s+", " ", line.lstrip("#").strip())
                for line in TEMPLATE.read_text().splitlines()
                if re.match(r"#{2,4} ", line) and "[optional]" not in line]
    headings = [line.lstrip("#").strip() for line in card.render(facts()).splitlines()
                if re.match(r"#{1,4} ", line)]
    positions = [headings.index(name) for name in required]
    assert positions == sorted(positions), (required, headings)


def test_it_states_the_project_guideline_filters_counts_and_license():
    text = card.render(facts())
    assert "Helpfulness (id 7)" in text
    assert "labels under versions 1, 2; the project's current version is 2" in text
    assert "| `min_agreement` | `0.6` |" in text and "| `split` | — |" in text
    assert "1,234 rows" in text and "300 labels on 100 items and 2 reviews" in text
    assert "- **License:** `cc-by-4.0`" in text
    assert "`" + "a" * 64 + "`" in text and "`" + "b" * 64 + "`" in text
    filtered = card.render(facts(params={"format": "trl", "guideline_version": 2}))
    assert "labels under version 2 only" in filtered


def test_agreement_figures_come_from_the_report_with_their_intervals():
    text = card.render(facts())
    for label, value in [("Percent agreement", 0.8125), ("Krippendorff's α (nominal)", 0.61),
                         ("Krippendorff's α (ordinal)", 0.655), ("Fleiss' κ", 0.6049),
                         ("Kendall's W", 0.7)]:
        row = next(line for line in text.splitlines() if line.startswith(f"| {label} |"))
        assert f"| {value:.3f} |" in row
    assert "| Percent agreement | 0.812 | [0.750, 0.860] |" in text
    assert "40 items, 120 labels, 3 annotators" in text and "95% bootstrap" in text
    assert "No agreement figures" in card.render(facts(agreement=None))


@pytest.mark.parametrize("format", sorted(card.COLUMNS))
def test_every_format_documents_its_columns(format):
    text = card.render(facts(format=format, params={"format": format}))
    for name, meaning in card.COLUMNS[format]:
        assert f"| `{name}` | {meaning} |" in text


def test_the_card_is_a_function_of_its_facts():
    assert card.render(facts()) == card.render(facts())
    assert card.render(facts()) != card.render(facts(rows=1235))
