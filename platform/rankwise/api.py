"""Shared REST plumbing: the error shape of the API contract, storable JSON fields and
pagination.

Every 4xx answer has the body ``{"detail": str, "errors": [{"field"|"line": ..., "message": str}]}``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions, serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import ApplicationError, Unavailable
from .parsers import request_too_large
from .text import json_problem


class StorableJSONField(serializers.JSONField):
    """A JSON value whose strings the database can store (no NUL, no lone surrogate)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value is None and not self.allow_null:
            # A form sends JSON as text: its "null" gets past DRF's check for a null value.
            self.fail("null")
        found = json_problem(value)
        if found:
            where, problem = found
            raise serializers.ValidationError(f"{where or 'The value'} {problem}")
        return value


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 1000


class IgnoreFormatParameter(DefaultContentNegotiation):
    """Answer with the first renderer whatever ``?format=`` says.

    In imports and exports ``format`` names a data format (``trl``, ``hh-rlhf``...); DRF
    would otherwise read it as a renderer override and answer 404.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type


def application_error_response(exc: ApplicationError) -> Response:
    """A domain error as the documented error body, with the error's status."""
    headers = {}
    if isinstance(exc, Unavailable):
        headers["Retry-After"] = str(exc.retry_after)
    return Response(exc.body(), status=exc.status, headers=headers)


def _flatten(detail: Any, prefix: str = "") -> list[dict[str, Any]]:
    """DRF's nested error dict → a flat list of {"field", "message"}."""
    if isinstance(detail, dict):
        out: list[dict[str, Any]] = []
        for key, value in detail.items():
            field = key if not prefix else f"{prefix}.{key}"
            if key == "non_field_errors":
                field = prefix or None
            out.extend(_flatten(value, field or ""))
        return out
    if isinstance(detail, list):
        out = []
        for index, value in enumerate(detail):
            if isinstance(value, (dict, list)):
                out.extend(_flatten(value, f"{prefix}[{index}]" if prefix else str(index)))
            else:
                out.extend(_flatten(value, prefix))
        return out
    entry: dict[str, Any] = {"message": str(detail)}
    if prefix:
        entry["field"] = prefix
    return [entry]


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        exc = request_too_large()
    if isinstance(exc, ApplicationError):
        return application_error_response(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        first = errors[0] if errors else {"message": "Invalid input."}
        where = f"{first['field']}: " if first.get("field") else ""
        response.data = {"detail": f"{where}{first['message']}", "errors": errors}
        return response
    data = response.data
    detail = data.get("detail") if isinstance(data, dict) else None
    response.data = {"detail": str(detail or data), "errors": []}
    return response
