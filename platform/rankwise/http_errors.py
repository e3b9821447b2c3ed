"""Answers for requests that fail outside a DRF view: an unknown path, a request Django
refuses before any view (too big, a CSRF failure), a login lockout, a crash.

Under ``/api/`` each is the contract's JSON error body ``{"detail", "errors": []}``, whatever
went wrong; a tool reading the API never has to parse an HTML page. Everywhere else Django's
site's own pages answer (``403.html``, ``404.html``, ``429.html``, the login lockout page),
in the site's layout with its navigation.
"""

from __future__ import annotations

from axes.helpers import get_cool_off
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.shortcuts import render
from django.views import csrf, defaults

from .parsers import request_too_large

API_PREFIX = "/api/"


def is_api(request) -> bool:
    return request.path_info.startswith(API_PREFIX)


def error_response(status: int, detail: str, headers: dict[str, str] | None = None):
    return JsonResponse({"detail": detail, "errors": []}, status=status, headers=headers)


def bad_request(request, exception=None):
    if not is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        too_large = request_too_large()
        return JsonResponse(too_large.body(), status=too_large.status)
    return error_response(400, "Bad request.")


def permission_denied(request, exception=None):
    if not is_api(request):
        return defaults.permission_denied(request, exception)
    return error_response(403, "You may not do this.")


def page_not_found(request, exception=None):
    if not is_api(request):
        return defaults.page_not_found(request, exception)
    # Never the exception's text: it can name a model or echo the path tried.
    return error_response(404, "Not found.")


def server_error(request):
    if not is_api(request):
        return defaults.server_error(request)
    return error_response(500, "Server error.")


def csrf_failure(request, reason=""):
    """``CSRF_FAILURE_VIEW``: a session request to the API without a valid CSRF token."""
    if not is_api(request):
        return csrf.csrf_failure(request, reason=reason)
    return error_response(403, f"CSRF failed: {reason}" if reason else "CSRF failed.")


def lockout_seconds(request) -> int | None:
    """How long a django-axes lockout lasts, for ``Retry-After``; None when permanent."""
    cool_off = get_cool_off(request)
    return max(1, int(cool_off.total_seconds())) if cool_off else None


def lockout_response(request, original_response=None, credentials=None):
    """``AXES_LOCKOUT_CALLABLE``: the answer to a login attempt while it is locked out."""
    seconds = lockout_seconds(request)
    headers = {"Retry-After": str(seconds)} if seconds else {}
    status = settings.AXES_HTTP_RESPONSE_CODE
    if is_api(request):
        return error_response(status, "Too many failed logins; try again later.", headers)
    context = {"minutes": lock_minutes(seconds), "limit": settings.AXES_FAILURE_LIMIT}
    response = render(request, "registration/lockout.html", context, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def lock_minutes(seconds: int | None) -> int | None:
    """A lockout's length in whole minutes, rounded up, for the pages that announce it."""
    return -(-seconds // 60) if seconds else None
