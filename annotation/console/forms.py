"""Forms of the manager's console: a project's fields, its typed settings, members, users
and guidelines.

The settings part of the settings form is built from :mod:`annotation.project_settings`
itself, one field per setting, so that a new setting shows up here without a change. The
form only turns what was typed into JSON values; the rules are checked once, by
``ProjectSettings.parse`` (through the write services, as for the API's PATCH), and each
error it names comes back next to the field it belongs to (:func:`show_errors`).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import MaxValueValidator, MinValueValidator

from rankwise.errors import ApplicationError

from ..models import Membership, Project
from ..project_settings import DEFAULT_FLAGS, InvalidSettings, ProjectSettings, validate_settings

User = get_user_model()

PROJECT_FIELDS = ("name", "description", "responses_per_item", "overlap", "gold_rate",
                  "lease_seconds")
LABELS = {"responses_per_item": "Responses per item (K)", "gold_rate": "Gold rate",
          "lease_seconds": "Lease (seconds)"}
# The sections of ProjectSettings the settings page edits, with their headings. ``flags``
# is edited with the project's fields.
SECTIONS = (
    ("", "Queue"),
    ("qualification", "Practice round"),
    ("annotation", "Annotators' labels"),
    ("quality", "Label quality"),
    ("export", "Export"),
    ("reward_model", "Reward model"),
    ("policy", "Policies (DPO)"),
    ("judges", "AI judges"),
)
SEPARATOR = "__"  # form field name of settings.<section>.<key>: "<section>__<key>"
INDEX = re.compile(r"\[\d+\]$")


def _model_field(name: str) -> forms.Field:
    """The form field of a Project field, with the model's bounds (also as the input's
    min and max, so a browser says it before sending)."""
    model_field = Project._meta.get_field(name)
    bounds = {}
    for validator in model_field.validators:
        if isinstance(validator, MinValueValidator):
            bounds["min_value"] = validator.limit_value
        elif isinstance(validator, MaxValueValidator):
            bounds["max_value"] = validator.limit_value
    field = model_field.formfield(**bounds)
    field.label = LABELS.get(name, field.label)
    if name == "gold_rate":
        field.widget.attrs["step"] = "any"
    return field


def split_list(text: str) -> list[str]:
    """Entries typed one a line or separated by commas."""
    return [part.strip() for part in re.split(r"[\n,]", text or "") if part.strip()]


class ProjectForm(forms.Form):
    """The fields a project is created with, and its flag list."""

    flags = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), initial="\n".join(DEFAULT_FLAGS),
        help_text="Flags annotators may attach to a label: one a line, or separated by "
                  "commas.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        fields = {name: _model_field(name) for name in PROJECT_FIELDS}
        self.fields = {**fields, "flags": self.fields["flags"]}
        self.fields["description"].widget.attrs["rows"] = 3

    def clean_flags(self):
        try:
            validate_settings({"flags": split_list(self.cleaned_data["flags"])})
        except InvalidSettings as exc:
            raise forms.ValidationError([error["message"] for error in exc.errors]) from exc
        return self.cleaned_data["flags"]

    def project_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in PROJECT_FIELDS}

    def flags_value(self) -> list[str]:
        return split_list(self.cleaned_data["flags"])


# --- the typed settings --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SettingField:
    """One setting on the form: ``settings.<section>.<key>`` (top level: section "")."""

    section: str
    key: str
    kind: type  # bool, int, float, str, or tuple for a list
    default: Any

    @property
    def name(self) -> str:
        return f"{self.section}{SEPARATOR}{self.key}" if self.section else self.key


def _section_class(section: str) -> type:
    if not section:
        return ProjectSettings
    return typing.get_type_hints(ProjectSettings)[section]


def setting_fields(section: str) -> list[SettingField]:
    cls = _section_class(section)
    hints = typing.get_type_hints(cls)
    found = []
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        kind = next(option for option in options if option is not type(None))
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            continue  # a section of its own
        if section == "" and field.name == "flags":
            continue  # with the project's fields
        kind = tuple if typing.get_origin(kind) is tuple else kind
        found.append(SettingField(section, field.name, kind, field.default))
    return found


def _shown(value: Any) -> str:
    """A stored setting as it is typed in the form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(_shown(v) for v in value)
    return str(value)


def _typed(text: str, kind: type) -> Any:
    """What was typed as the JSON value the settings rules judge: numbers for number
    settings when the text is one, the text itself otherwise (the rules then name it)."""
    if kind is bool:
        return {"true": True, "false": False}.get(text, text)
    if kind is str:
        return text
    if kind is tuple:
        return [_typed(part, int) for part in split_list(text)]
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            continue
    return text


def _form_field(setting: SettingField) -> forms.Field:
    meta = dataclasses.fields(_section_class(setting.section))
    meta = next(f for f in meta if f.name == setting.key).metadata
    default = "default" if setting.default is None else f"default: {_shown(setting.default)}"
    common = {"required": False, "label": setting.key.replace("_", " "),
              "help_text": meta.get("doc") or ""}
    if setting.kind is bool:
        if setting.default is not None:
            default = f"default: {'yes' if setting.default else 'no'}"
        choices = [("", default.capitalize()), ("true", "yes"), ("false", "no")]
        return forms.ChoiceField(choices=choices, **common)
    if meta.get("choices"):
        choices = [("", default.capitalize())] + [(c, c) for c in meta["choices"]]
        return forms.ChoiceField(choices=choices, **common)
    attrs = {"placeholder": default}
    if setting.kind in (int, float):
        attrs["inputmode"] = "decimal"
    elif setting.kind is tuple:
        attrs["placeholder"] = f"{default} (comma-separated)"
    return forms.CharField(widget=forms.TextInput(attrs=attrs), **common)


class SettingsForm(ProjectForm):
    """The project's fields, flags and every typed setting; a blank setting keeps its
    default (the key is left out of the stored settings)."""

    def __init__(self, *args, project: Project, **kwargs):
        raw = project.settings if isinstance(project.settings, dict) else {}
        initial = {name: getattr(project, name) for name in PROJECT_FIELDS}
        initial["flags"] = "\n".join(raw["flags"]) if isinstance(raw.get("flags"), list) \
            else "\n".join(DEFAULT_FLAGS)
        self.sections = []
        for section, title in SECTIONS:
            stored = raw.get(section, {}) if section else raw
            stored = stored if isinstance(stored, dict) else {}
            settings = setting_fields(section)
            for setting in settings:
                if setting.key in stored:
                    initial[setting.name] = _shown(stored[setting.key])
            self.sections.append((section, title, settings))
        super().__init__(*args, initial=initial, **kwargs)
        self.project = project
        for _section, _title, settings in self.sections:
            for setting in settings:
                self.fields[setting.name] = _form_field(setting)

    def clean(self):
        """Judge the settings as they would be stored, so every bad one is named at once
        (the write service judges them again; it has the last word)."""
        cleaned = super().clean()
        try:
            validate_settings(self.settings_value())
        except InvalidSettings as exc:
            show_errors(self, exc)
        return cleaned

    def grouped(self) -> list[dict[str, Any]]:
        """The settings' bound fields by section, for the template."""
        return [{"name": section or "queue", "title": title,
                 "fields": [self[s.name] for s in settings],
                 "open": any(self[s.name].errors for s in settings)}
                for section, title, settings in self.sections]

    def settings_value(self) -> dict[str, Any]:
        """The settings to store: the project's, with every key this form edits replaced
        by what was typed (or dropped when blank). Keys it does not edit are kept."""
        raw = dict(self.project.settings) if isinstance(self.project.settings, dict) else {}
        if "flags" in self.cleaned_data:  # else bad, and named by clean_flags
            flags = self.flags_value()
            if tuple(flags) == DEFAULT_FLAGS:
                raw.pop("flags", None)
            else:
                raw["flags"] = flags
        for section, _title, settings in self.sections:
            if section:
                stored = raw.get(section)
                target = dict(stored) if isinstance(stored, dict) else {}
            else:
                target = raw
            for setting in settings:
                text = (self.cleaned_data.get(setting.name) or "").strip()
                if text:
                    target[setting.key] = _typed(text, setting.kind)
                else:
                    target.pop(setting.key, None)
            if section:
                if target:
                    raw[section] = target
                else:
                    raw.pop(section, None)
        return raw


def show_errors(form: forms.Form, exc: ApplicationError) -> None:
    """Put a service's errors on the form: each next to the field it names
    (``settings.quality.min_labels`` → the ``quality__min_labels`` field), the rest on top."""
    placed = False
    for error in exc.errors:
        where = str(error.get("field") or "")
        name = INDEX.sub("", where.removeprefix("settings.")).replace(".", SEPARATOR)
        if name in form.fields:
            form.add_error(name, str(error["message"]))
        else:
            form.add_error(None, f"{where}: {error['message']}" if where else
                           str(error["message"]))
        placed = True
    if not placed:
        form.add_error(None, exc.detail)


# --- people ---------------------------------------------------------------------------------

ROLE_CHOICES = Membership.Role.choices


class AddMemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=Membership.Role.ANNOTATOR)

    def __init__(self, *args, **kwargs):
        # Its page also holds NewUserForm: ids of their own, same field names.
        super().__init__(*args, auto_id="add_%s", **kwargs)

    def clean_username(self):
        username = self.cleaned_data["username"]
        self.user = User.objects.filter(username=username).first()
        if self.user is None:
            raise forms.ValidationError(
                f"No user is named {username!r}. Create the account below first.")
        return username


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Membership.Status.choices)
    reason = forms.CharField(required=False, max_length=2000)


class NewUserForm(forms.Form):
    username = forms.RegexField(
        r"^[\w.@+-]+\Z", max_length=150,
        help_text="Letters, digits and @ . + - _ only.",
        error_messages={"invalid": "Use only letters, digits and @ . + - _."})
    password = forms.CharField(widget=forms.PasswordInput, max_length=256,
                               strip=False)
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(
        required=False, initial=Membership.Role.ANNOTATOR,
        choices=[*ROLE_CHOICES, ("", "Don't add to this project")],
        label="Add to this project as")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="new_%s", **kwargs)


class GuidelineForm(forms.Form):
    text = forms.CharField(
        strip=False, widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "true"}),
        label="Guideline (Markdown)", max_length=200_000)

    def clean_text(self):
        text = self.cleaned_data["text"]
        if not text.strip():
            raise forms.ValidationError("Write the guideline before publishing it.")
        return text
