"""Forms of the judges console: the constitution's principle rows, a new judge, a run.

The constitution editor is a list of rows, each a principle's four fields, posted as
``p-<row>-<field>``; blank rows are left out, so a page without JavaScript adds a principle
by filling the blank row it always shows (or asking for another). The rules are checked
once, by :func:`judges.services.validate_principles`; its errors name the principle by its
place in the list sent (``principles[2].question``), which :func:`place_principle_errors`
turns back into the row it came from.
"""

from __future__ import annotations

import re

from django import forms

from rankwise.errors import ApplicationError

from . import services
from .models import Judge

FIELDS = ("name", "question", "critique", "revision")
MAX_ROWS = services.MAX_PRINCIPLES + 20  # rows read from a post; the service caps principles
PRINCIPLE_FIELD = re.compile(r"^principles\[(\d+)\]\.(\w+)$")
SELECTION_CHOICES = [
    ("all", "All items"),
    ("unlabelled", "Items nobody labelled yet"),
    ("low_agreement", "Items people disagree on"),
    ("sample", "A random sample of N items"),
]


def show_errors(form: forms.Form, exc: ApplicationError) -> None:
    """Put a service's errors on the form, each next to the field it names, the rest on
    top (as the manager's console does)."""
    for error in exc.errors:
        where = str(error.get("field") or "")
        if where in form.fields:
            form.add_error(where, str(error["message"]))
        else:
            form.add_error(None, f"{where}: {error['message']}" if where
                           else str(error["message"]))
    if not exc.errors:
        form.add_error(None, exc.detail)


def blank_row() -> dict:
    return {**{field: "" for field in FIELDS}, "remove": False, "errors": {}}


def rows_of(principles: list[dict], blanks: int = 1) -> list[dict]:
    """The editor's rows for stored principles, then ``blanks`` empty ones."""
    rows = [{**blank_row(), **{field: p.get(field, "") for field in FIELDS}}
            for p in principles]
    return rows + [blank_row() for _ in range(blanks)]


def principle_rows(data) -> list[dict]:
    """The rows as posted, in order, with what was typed kept as typed."""
    try:
        count = min(int(data.get("rows", 0)), MAX_ROWS)
    except (TypeError, ValueError):
        count = 0
    rows = []
    for n in range(max(count, 0)):
        row = blank_row()
        for field in FIELDS:
            row[field] = data.get(f"p-{n}-{field}", "")
        row["remove"] = data.get(f"p-{n}-remove") == "on"
        rows.append(row)
    return rows


def to_publish(rows: list[dict]) -> tuple[list[dict], list[int]]:
    """The principles to publish (rows neither blank nor marked for removal) and, for each,
    the row it came from."""
    principles, sent = [], []
    for n, row in enumerate(rows):
        if row["remove"] or not any(row[field].strip() for field in FIELDS):
            continue
        principles.append({field: row[field] for field in FIELDS})
        sent.append(n)
    return principles, sent


def place_principle_errors(rows: list[dict], sent: list[int], exc: ApplicationError) -> list[str]:
    """Put each error next to its row's field; answer the ones that name no row."""
    general = []
    for error in exc.errors:
        where = str(error.get("field") or "")
        found = PRINCIPLE_FIELD.match(where)
        if found and int(found[1]) < len(sent) and found[2] in FIELDS:
            rows[sent[int(found[1])]]["errors"][found[2]] = str(error["message"])
        else:
            general.append(str(error["message"]))
    if not exc.errors:
        general.append(exc.detail)
    return general or ["Some principles need another look; each field says what is wrong."]


class JudgeForm(forms.Form):
    name = forms.CharField(max_length=100)
    backend = forms.ChoiceField(
        choices=[(value, value) for value in Judge.Backend.values],
        initial=Judge.Backend.OPENAI,
        help_text="openai: any server with an OpenAI-style chat API; local_lm: a model "
                  "folder on the workers; reward_model: the project's active reward model.")
    model = forms.CharField(max_length=200, required=False,
                            help_text="The model's name (openai) or its folder's (local_lm).")
    base_url = forms.CharField(max_length=500, required=False, label="Base URL",
                               help_text="openai only, e.g. http://localhost:8000/v1. The API "
                                         "key comes from the server's environment.")
    path = forms.CharField(max_length=500, required=False, label="Model folder",
                           help_text="local_lm only.")
    principles = forms.ChoiceField(
        choices=[("sample", "One principle drawn per comparison"),
                 ("all", "Every principle, preferences averaged")],
        initial="sample", label="Principles per comparison")
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0,
                              help_text="Fixes which principle and which sample items are "
                                        "drawn.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="judge_%s", **kwargs)

    def show(self, exc: ApplicationError) -> None:
        show_errors(self, exc)


class RunForm(forms.Form):
    """Which items a run judges; one per judge on the page, so each with its own ids."""

    items = forms.ChoiceField(choices=SELECTION_CHOICES, initial="all", label="Items")
    limit = forms.IntegerField(min_value=1, max_value=1_000_000, required=False,
                               label="At most (N)",
                               help_text="Required for a sample; otherwise optional.")

    def __init__(self, *args, judge: Judge, **kwargs):
        self.judge = judge
        super().__init__(*args, auto_id=f"run{judge.pk}_%s", **kwargs)

    def show(self, exc: ApplicationError) -> None:
        show_errors(self, exc)


class ReviseForm(forms.Form):
    """Which items a critique-and-revise run rewrites, and in how many rounds."""

    items = forms.ChoiceField(choices=[c for c in SELECTION_CHOICES if c[0] != "low_agreement"],
                              initial="all", label="Items")
    limit = forms.IntegerField(min_value=1, max_value=1_000_000, required=False,
                               label="At most (N)",
                               help_text="Required for a sample; otherwise optional.")
    rounds = forms.IntegerField(min_value=1, max_value=4, initial=1, label="Rounds",
                                help_text="Critique and rewrite each response 1 to 4 times.")

    def __init__(self, *args, judge: Judge, **kwargs):
        self.judge = judge
        super().__init__(*args, auto_id=f"revise{judge.pk}_%s", **kwargs)

    def show(self, exc: ApplicationError) -> None:
        show_errors(self, exc)
