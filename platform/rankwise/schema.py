"""The OpenAPI schema's error answers.

Every 4xx and 5xx answer of the API has the body of the contract (:mod:`rankwise.api`), so
the schema documents it once, as the ``Error`` component, on every status an operation can
answer with. Which statuses those are follows from what the operation takes (a path id, a
body, query filters) and how it authenticates; a status an endpoint adds for its own
reasons (409) is named in its ``extend_schema`` and gets the same body here.

JSON fields, which the schema would type as "anything", say what they hold through
``documented`` and ``DocumentedJSONFields``.
"""

from __future__ import annotations

import functools
import json

from drf_spectacular import openapi
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication

PAGINATION_PARAMETERS = {"page", "page_size"}
RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer", "minimum": 0},
        "description": "Seconds to wait before trying again.",
    }
}
DESCRIPTIONS = {
    "400": "Invalid input: `errors` names every bad field or line.",
    "401": "Not authenticated: no credentials, or a malformed, unknown or expired token.",
    "403": "Authenticated, but the role in the project is too low (or the session's CSRF "
           "token is missing).",
    "404": "No such object, or one in a project the caller is not a member of (the two "
           "answer alike).",
    "409": "The request clashes with the current state.",
    "413": "The request body is too large.",
    "415": "Unsupported Content-Type.",
    "429": "Too many requests; retry after `Retry-After` seconds.",
    "503": "Temporarily unavailable (the database restarting, a busy queue); retry after "
           "`Retry-After` seconds.",
}


class ErrorEntrySerializer(serializers.Serializer):
    field = serializers.CharField(required=False, help_text="The bad field, dotted.")
    line = serializers.IntegerField(required=False, help_text="The bad line (imports), from 1.")
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """The body of every error answer. Refusals of the annotating endpoints add a ``code``
    and the details it names (``guideline_version``, ``acknowledge_url``...)."""

    detail = serializers.CharField(help_text="What went wrong, in one sentence.")
    errors = ErrorEntrySerializer(many=True)
    code = serializers.CharField(required=False,
                                 help_text="A stable word for programs (`lease_expired`...).")


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if not self.path.startswith("/api/"):
            return responses
        for code in self._error_codes(responses):
            given = responses.get(code, {})
            if "content" in given:
                continue
            answer = self._get_response_for_code(ErrorSerializer, code, ["application/json"],
                                                  direction)
            answer["description"] = given.get("description") or DESCRIPTIONS[code]
            if code in ("429", "503"):
                answer["headers"] = RETRY_AFTER
            responses[code] = answer
        return dict(sorted(responses.items()))

    def _error_codes(self, declared: dict) -> list[str]:
        """The error statuses this operation can answer with."""
        takes_id = "{" in self.path
        has_body = self.method in ("POST", "PUT", "PATCH")
        filtered = any(parameter["in"] == "query"
                       and parameter["name"] not in PAGINATION_PARAMETERS
                       for parameter in self._get_parameters())
        paginated = self._is_list_view() and self._get_paginator() is not None
        sessions = any(issubclass(cls, SessionAuthentication)
                       for cls in getattr(self.view, "authentication_classes", []))
        codes = {"401", "503"}
        codes.update(code for code in declared if code >= "400")
        if has_body or filtered:
            codes.add("400")
        if takes_id or (has_body and sessions):
            codes.add("403")
        if takes_id or paginated:
            codes.add("404")
        if has_body:
            codes.update({"413", "415"})
        if getattr(self.view, "throttle_classes", None):
            codes.add("429")
        return sorted(codes)


# --- JSON fields --------------------------------------------------------------------------
# The schema types a JSON field as "anything"; these name what the stored values are.
JSON_OBJECT = {"type": "object", "additionalProperties": True}
RANKING = {"type": "array", "items": {"type": "array", "items": {"type": "integer"}},
           "description": "Tiers of response ids, best first; ids in one tier are tied."}
MESSAGES = {"type": "array", "items": {
    "type": "object", "required": ["role", "content"],
    "properties": {"role": {"type": "string"}, "content": {"type": "string"}},
}}


@functools.cache
def _documented(field_class: type, schema_json: str) -> type:
    return extend_schema_field(json.loads(schema_json))(
        type(field_class.__name__, (field_class,), {"__module__": field_class.__module__}))


def documented(field_class: type, schema: dict) -> type:
    """``field_class`` as the OpenAPI schema should show it: ``schema``."""
    return _documented(field_class, json.dumps(schema, sort_keys=True))


class DocumentedJSONFields:
    """A ModelSerializer mixin: ``Meta.json_schemas`` maps JSON model fields to the schema
    of the values they hold."""

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        schema = getattr(self.Meta, "json_schemas", {}).get(field_name)
        if schema is not None:
            field_class = documented(field_class, schema)
        return field_class, kwargs
