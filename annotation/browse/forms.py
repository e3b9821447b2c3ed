"""The item list's query string, parsed. A page, not an API: a value that does not parse is
left out and named in a notice on the page, so a stale or edited link still shows items."""

from __future__ import annotations

from django import forms

from rankwise.converters import MAX_ID

from .selectors import FILTERS, LABELS, Filters

SEARCH_MAX_CHARS = 200


class BrowseForm(forms.Form):
    q = forms.CharField(required=False, max_length=SEARCH_MAX_CHARS, strip=True,
                        label="Search prompts")
    status = forms.ChoiceField(required=False, label="Status",
                               choices=[("", "Any status"), *((f, LABELS[f]) for f in FILTERS)])
    id_from = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID, label="From id")
    id_to = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID, label="To id")
    page = forms.IntegerField(required=False, min_value=1, max_value=10**9)


def parse(query) -> tuple[Filters, int, list[str]]:
    """(filters, page number, problems) from ``request.GET``; each problem names its field."""
    form = BrowseForm(query)
    form.is_valid()
    problems = [f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()]
    data = {name: form.cleaned_data.get(name) for name in form.fields
            if name not in form.errors}
    filters = Filters(status=data.get("status") or "", search=data.get("q") or "",
                      id_from=data.get("id_from"), id_to=data.get("id_to"))
    return filters, data.get("page") or 1, problems
