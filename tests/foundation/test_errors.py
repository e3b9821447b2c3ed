"""Domain errors map to the documented error body, whatever raised them."""

from __future__ import annotations

import pytest

from rankwise.api import exception_handler
from rankwise.errors import (
    ApplicationError,
    Conflict,
    LineErrors,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    Unavailable,
    ValidationFailed,
    error_text,
)


@pytest.mark.parametrize("error,status", [
    (ApplicationError("Nope."), 400), (ValidationFailed("Bad."), 400),
    (PermissionDenied("No."), 403), (NotFound("No such thing."), 404),
    (Conflict("Busy."), 409), (PayloadTooLarge("Big."), 413), (Unavailable("Later."), 503),
])
def test_each_error_has_its_status_and_the_error_body(error, status):
    response = exception_handler(error, {})
    assert response.status_code == status
    assert response.data == {"detail": error.detail, "errors": []}


def test_a_code_and_details_join_the_body():
    response = exception_handler(
        Conflict("Already submitted.", code="already_submitted", annotation=7), {})
    assert response.data == {"detail": "Already submitted.", "errors": [],
                             "code": "already_submitted", "annotation": 7}


def test_unavailable_says_when_to_retry():
    response = exception_handler(Unavailable(retry_after=5), {})
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.data["detail"] == "The service is busy; try again."


def test_field_errors_name_every_field_and_the_first_is_the_summary():
    error = ValidationFailed.of_fields({"password": ["Too short.", "Too common."],
                                        "username": "Taken."})
    assert error.detail == "password: Too short."
    assert error.errors == [{"field": "password", "message": "Too short."},
                            {"field": "password", "message": "Too common."},
                            {"field": "username", "message": "Taken."}]
    assert exception_handler(error, {}).data["errors"] == error.errors


def test_line_errors_keep_their_lines():
    error = LineErrors("2 lines are invalid; nothing was imported.",
                       [{"line": 3, "message": "Invalid JSON."},
                        {"line": 9, "message": "No prompt."}])
    assert error.status == 400
    assert exception_handler(error, {}).data == {
        "detail": "2 lines are invalid; nothing was imported.", "errors": error.errors}
    assert error_text(error) == ("2 lines are invalid; nothing was imported.; "
                                 "line 3: Invalid JSON.; line 9: No prompt.")


def test_error_text_does_not_repeat_the_summary():
    assert error_text(ValidationFailed.of_fields({"file": "Empty."})) == "file: Empty."


def test_a_service_error_reaches_a_client_as_the_body(project_with_roles, client_for):
    project, users = project_with_roles
    client = client_for(users["manager"])
    answer = client.post("/api/v1/users/", {"username": users["annotator"].username,
                                             "password": "long-enough-passw0rd"}, format="json")
    assert answer.status_code == 400
    assert answer.json() == {
        "detail": "username: A user with that username already exists.",
        "errors": [{"field": "username", "message": "A user with that username already exists."}]}
