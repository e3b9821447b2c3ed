"""A database that is down or restarting answers 503 with ``Retry-After``, never 500.

While PostgreSQL restarts, every query fails: the connection is refused, or an open one is
terminated by the server's shutdown. Those are transient, so the client is told to retry
(the API's JSON error body under ``/api/``, a plain page elsewhere) and the broken
connection is dropped, so that the next request opens a fresh one once the server is back.
Errors that are not about reaching the database (a bad query, a constraint) still surface
as 500s.

``DatabaseUnavailableMiddleware.process_exception`` handles what a view raises, DRF views
included (the API's exception handler leaves driver errors alone, so they reach it). A
fault outside any view (a session saved after the response was built, say) reaches
Django's 500 handler instead; the ``got_request_exception`` receiver marks the request and
the middleware, first in ``MIDDLEWARE``, replaces that 500 with the same 503.
"""

from __future__ import annotations

import logging
import sys

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError, connections
from django.dispatch import receiver
from django.http import HttpResponse, JsonResponse

from .errors import Unavailable
from .http_errors import is_api

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2
MARK = "_rankwise_database_unavailable"

# PostgreSQL SQLSTATE classes and codes that mean "the server cannot be used right now":
# 08 connection exceptions, 53 insufficient resources (too many connections), 57P01-03
# admin / crash shutdown and "the database system is starting up".
TRANSIENT_CLASSES = ("08", "53")
TRANSIENT_CODES = {"57P01", "57P02", "57P03"}
SQLITE_BUSY, SQLITE_LOCKED = 5, 6


def is_database_unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc`` says the database cannot be reached or used for now."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__ or exc
    if hasattr(cause, "sqlite_errorcode"):
        return cause.sqlite_errorcode & 0xFF in {SQLITE_BUSY, SQLITE_LOCKED}
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is None:
        # psycopg raises these without a SQLSTATE: refused, reset or closed connections.
        return True
    return sqlstate.startswith(TRANSIENT_CLASSES) or sqlstate in TRANSIENT_CODES


def drop_broken_connections() -> None:
    for conn in connections.all(initialized_only=True):
        # Inside an atomic block (a test's transaction) the owner of the block closes it.
        if conn.connection is not None and not conn.in_atomic_block:
            try:
                conn.close()
            except Exception:  # the connection is already unusable; closing is best effort
                logger.debug("closing a broken database connection failed", exc_info=True)


def unavailable_response(request) -> HttpResponse:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if is_api(request):
        error = Unavailable("The database is unavailable; try again shortly.",
                            code="database_unavailable", retry_after=RETRY_AFTER_SECONDS)
        return JsonResponse(error.body(), status=error.status, headers=headers)
    return HttpResponse(
        "<!doctype html><title>Service unavailable</title><h1>Service unavailable</h1>"
        "<p>The site cannot reach its database. Try again in a moment.</p>",
        status=503, headers=headers,
    )


def _answer(request, exc: BaseException) -> HttpResponse:
    logger.warning("Database unavailable during %s %s: %s", request.method, request.path,
                   str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    drop_broken_connections()
    return unavailable_response(request)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        exc = getattr(request, MARK, None)
        if exc is not None and response.status_code >= 500:
            return _answer(request, exc)
        return response

    def process_exception(self, request, exception):
        if is_database_unavailable(exception):
            return _answer(request, exception)
        return None


@receiver(got_request_exception, dispatch_uid="rankwise.middleware.database_unavailable")
def _mark_database_unavailable(sender, request=None, **kwargs):
    exc = sys.exc_info()[1]
    if request is not None and is_database_unavailable(exc):
        setattr(request, MARK, exc)
