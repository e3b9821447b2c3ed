"""Domain errors: what went wrong, in the domain's words, without HTTP.

Services raise these; the API's exception handler (:mod:`rankwise.api`) turns any of them
into the documented error body ``{"detail": str, "errors": [{"field"|"line": ..., "message":
str}]}`` with the class's status, and Celery tasks catch the same classes to record a
failure on their row. No service imports DRF.

``code`` is a stable machine-readable word (``lease_expired``, ``not_a_member``...); when a
raiser names one it is added to the body beside ``detail``, together with any keyword
details (``ApplicationError("...", code="x", retry_after=5)`` → ``{"code": "x",
"retry_after": 5, ...}``).
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """Base class: a 400 unless a subclass says otherwise."""

    status = 400
    default_detail = "The request could not be carried out."

    def __init__(self, detail: str | None = None, *, code: str | None = None,
                 errors: list[dict[str, Any]] | None = None, **extra: Any):
        self.errors = list(errors or [])
        self.detail = detail or _summary(self.errors) or self.default_detail
        self.code = code
        self.extra = extra
        super().__init__(self.detail)

    def body(self) -> dict[str, Any]:
        """The documented error body for this error."""
        data: dict[str, Any] = {"detail": self.detail, "errors": self.errors}
        if self.code:
            data["code"] = self.code
        data.update(self.extra)
        return data


class ValidationFailed(ApplicationError):
    """Bad input. ``errors`` name each bad field (``{"field", "message"}``) or line
    (``{"line", "message"}``); without a ``detail`` the first error is the summary."""

    status = 400
    default_detail = "Invalid input."

    @classmethod
    def of_fields(cls, fields: dict[str, str | list[str]], detail: str | None = None,
                  **kwargs: Any) -> ValidationFailed:
        """``{"field": "message" | ["message", ...]}`` → one error listing them all."""
        errors = []
        for field, messages in fields.items():
            for message in [messages] if isinstance(messages, str) else messages:
                errors.append({"field": field, "message": str(message)})
        return cls(detail, errors=errors, **kwargs)


class LineErrors(ValidationFailed):
    """Bad input lines (imports): ``errors`` are ``{"line", "message"}`` dicts."""

    def __init__(self, detail: str, errors: list[dict[str, Any]]):
        super().__init__(detail, errors=errors)


class PermissionDenied(ApplicationError):
    status = 403
    default_detail = "You may not do this."


class NotFound(ApplicationError):
    status = 404
    default_detail = "Not found."


class Conflict(ApplicationError):
    """The request is valid but clashes with the current state (a run already going, an
    assignment already submitted)."""

    status = 409
    default_detail = "The request conflicts with the current state."


class PayloadTooLarge(ApplicationError):
    status = 413
    default_detail = "The data is too large."


class Unavailable(ApplicationError):
    """A transient fault (a busy queue, a database restarting): retry after ``retry_after``
    seconds."""

    status = 503
    default_detail = "The service is busy; try again."

    def __init__(self, detail: str | None = None, *, retry_after: int = 1, **kwargs: Any):
        super().__init__(detail, **kwargs)
        self.retry_after = retry_after


def _summary(errors: list[dict[str, Any]]) -> str | None:
    if not errors:
        return None
    first = errors[0]
    where = first.get("field") or (f"line {first['line']}" if "line" in first else None)
    return f"{where}: {first['message']}" if where else str(first["message"])


def error_text(exc: ApplicationError) -> str:
    """One line for a log or a run row: the detail and every named field or line."""
    parts = [exc.detail]
    for error in exc.errors:
        where = error.get("field") or (f"line {error['line']}" if "line" in error else "")
        parts.append(f"{where}: {error['message']}" if where else str(error["message"]))
    return "; ".join(dict.fromkeys(parts))
