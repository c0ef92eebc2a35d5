"""The one error envelope, produced here for every error whatever raised it.

Our own errors (``ApiError``), werkzeug's HTTP errors, webargs/flask-smorest validation errors,
flask-praetorian's exceptions, database errors and anything unexpected all leave as
``{"error", "message", "status", "details"?, "request_id"}``. Nothing secret is put in the body:
unexpected errors are logged with their traceback and answered with a fixed sentence.
"""

from http import HTTPStatus

from flask import Flask, current_app, g, jsonify
from flask_praetorian import exceptions as praetorian
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.identity import EMAIL_TAKEN, USERNAME_TAKEN

ERROR_CODES = {
    400: "bad_request",
    401: "invalid_token",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}

MESSAGES = {
    "bad_request": "The request could not be understood.",
    "invalid_json": "The request body is not valid JSON.",
    "validation_error": "The request failed validation.",
    "not_found": "The requested resource does not exist.",
    "method_not_allowed": "The method is not allowed on this resource.",
    "payload_too_large": "The request body is larger than the 1 MiB limit.",
    "unsupported_media_type": "The request body must be JSON (Content-Type: application/json).",
    "conflict": "The request conflicts with the current state of the resource.",
    "internal_error": "An unexpected error occurred; it has been logged.",
    "service_unavailable": "The database is unavailable; try again shortly.",
    "invalid_credentials": "The username or password is incorrect.",
    "missing_token": "This resource needs an Authorization: Bearer token.",
    "invalid_token": "The token is invalid.",
    "token_expired": "The token has expired.",
    "token_revoked": "The token has been revoked.",
    "reauthentication_required": "Confirm your password (POST /reauthenticate) and try again.",
    "forbidden": "Your roles do not allow this operation.",
    "insufficient_scope": "This token's scopes do not cover this request.",
    "account_disabled": "The account is disabled.",
    "rate_limited": "Too many requests: try again after the seconds given in Retry-After.",
}

# Most specific first: the first class an exception is an instance of decides.
PRAETORIAN_ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (praetorian.ExpiredAccessError, 401, "token_expired"),
    (praetorian.ExpiredRefreshError, 401, "token_expired"),
    (praetorian.BlacklistedError, 401, "token_revoked"),
    (praetorian.MissingToken, 401, "missing_token"),
    (praetorian.AuthenticationError, 401, "invalid_credentials"),
    (praetorian.MissingRoleError, 403, "forbidden"),
    (praetorian.InvalidUserError, 403, "account_disabled"),
    (praetorian.InvalidTokenHeader, 401, "invalid_token"),
    (praetorian.MissingClaimError, 401, "invalid_token"),
    (praetorian.MisusedRegistrationToken, 401, "invalid_token"),
    (praetorian.MisusedResetToken, 401, "invalid_token"),
    (praetorian.InvalidRegistrationToken, 401, "invalid_token"),
    (praetorian.InvalidResetToken, 401, "invalid_token"),
    (praetorian.MissingUserError, 401, "invalid_token"),
)

BODY_LOCATIONS = {"json", "form", "files", "json_or_form"}

# SQLSTATEs of the constraint failures a race can cause.
UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"
# The unique indexes whose failure names a field of the request.
TAKEN_BY_CONSTRAINT = {
    "uq_users_username_lower": ("username", USERNAME_TAKEN),
    "uq_users_email_lower": ("email", EMAIL_TAKEN),
}


class ApiError(Exception):
    """An error a view raises on purpose; it becomes the envelope as is."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str | None = None,
        details: dict | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or MESSAGES.get(error, error))
        self.status = status
        self.error = error
        self.message = message or MESSAGES.get(error, HTTPStatus(status).phrase)
        self.details = details
        self.headers = headers or {}


def error_response_doc(description: str) -> dict:
    """An OpenAPI response carrying the envelope (``blp.doc(responses={"404": ...})``)."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def error_response(
    status: int,
    error: str,
    message: str | None = None,
    details: dict | None = None,
    headers: dict[str, str] | None = None,
):
    """Build the envelope response."""
    body = {
        "error": error,
        "message": message or MESSAGES.get(error) or HTTPStatus(status).phrase + ".",
        "status": status,
    }
    if details:
        body["details"] = details
    body["request_id"] = g.get("request_id")
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def handle_api_error(error: ApiError):
    return error_response(error.status, error.error, error.message, error.details, error.headers)


def handle_http_exception(error: HTTPException):
    """werkzeug's errors, and webargs's (raised by flask-smorest as HTTP errors with data)."""
    status = error.code or 500
    headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if isinstance(messages, dict) and messages:
        return _validation_error_response(status, messages, headers)
    if status >= 500:
        current_app.logger.error("HTTP %s raised by the application", status)
    return error_response(status, ERROR_CODES.get(status, _code_from_name(error)), headers=headers)


def _validation_error_response(status: int, messages: dict, headers: dict[str, str]):
    """422 for a body that fails its schema; 400 for malformed JSON or bad query parameters."""
    if status == 400 and "json" in messages:
        return error_response(400, "bad_request", MESSAGES["invalid_json"], headers=headers)
    body_messages = {
        location: errors for location, errors in messages.items() if location in BODY_LOCATIONS
    }
    if body_messages:
        details: dict = {}
        for errors in body_messages.values():
            details.update(errors if isinstance(errors, dict) else {"_schema": errors})
        return error_response(422, "validation_error", details=details, headers=headers)
    details = {}
    for errors in messages.values():
        details.update(errors if isinstance(errors, dict) else {"_schema": errors})
    return error_response(
        400, "bad_request", "A query or path parameter is invalid.", details, headers
    )


def _code_from_name(error: HTTPException) -> str:
    return (error.name or "error").lower().replace(" ", "_").replace("'", "")


def handle_praetorian_error(error: praetorian.PraetorianError):
    """praetorian's exceptions mapped to our codes; anything else of its is our bug (500)."""
    for exception_class, status, code in PRAETORIAN_ERRORS:
        if isinstance(error, exception_class):
            return error_response(status, code)
    current_app.logger.error("flask-praetorian error: %s", type(error).__name__, exc_info=error)
    return error_response(500, "internal_error")


def handle_integrity_error(error: IntegrityError):
    """A constraint caught what the views could not see coming (two requests at once): a taken
    username or e-mail, or a row another request deleted meanwhile, is a 409 naming what it can;
    any other constraint is our bug (500)."""
    db.session.rollback()
    diagnostics = getattr(error.orig, "diag", None)
    constraint = getattr(diagnostics, "constraint_name", None)
    if constraint in TAKEN_BY_CONSTRAINT:
        field, message = TAKEN_BY_CONSTRAINT[constraint]
        return error_response(409, "conflict", message, {field: [message]})
    code = getattr(error.orig, "pgcode", None)
    if code == UNIQUE_VIOLATION:
        return error_response(409, "conflict", "That already exists.")
    if code == FOREIGN_KEY_VIOLATION:
        return error_response(
            409, "conflict", "Something the request refers to was deleted meanwhile."
        )
    current_app.logger.error("integrity error", exc_info=error)
    return error_response(500, "internal_error")


def handle_vanished_row(error: Exception):
    """The row was deleted by a concurrent request between our read and our write."""
    db.session.rollback()
    return error_response(
        404, "not_found", "The resource was deleted while this request was being handled."
    )


def handle_database_error(error: DBAPIError):
    """A lost or refused database connection is an outage, not a bug."""
    db.session.rollback()
    if error.connection_invalidated or isinstance(error, OperationalError | InterfaceError):
        current_app.logger.warning("database unavailable: %s", type(error.orig).__name__)
        return error_response(503, "service_unavailable")
    current_app.logger.error("database error", exc_info=error)
    return error_response(500, "internal_error")


def handle_unexpected_error(error: Exception):
    """Log the traceback for us; tell the client nothing about it."""
    db.session.rollback()
    current_app.logger.error("unhandled exception", exc_info=error)
    return error_response(500, "internal_error")


def register_error_handlers(app: Flask) -> None:
    """Route every error through the envelope."""
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(praetorian.PraetorianError, handle_praetorian_error)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(StaleDataError, handle_vanished_row)
    app.register_error_handler(ObjectDeletedError, handle_vanished_row)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected_error)
