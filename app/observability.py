"""What the app tells operators: one JSON access line per request, JSON log lines, and the
headers every response carries (request id, security headers).

The access line is written by the app rather than by gunicorn because only the app knows the
request id it assigned and the user the token belonged to. It never holds a token, a password or
a query string (tokens travel in headers only, and the path is logged without its query).
"""

import json
import logging
import sys
import time

from flask import Flask, current_app, g, request

ACCESS_LOGGER = "gatehouse.access"
ACCESS_LOG = logging.getLogger(ACCESS_LOGGER)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
HSTS = "max-age=31536000; includeSubDomains"
# Every answer is JSON and may load nothing. The docs page (Swagger UI) may load scripts, styles,
# fonts and the API's own document from this origin, images also from data: URLs (its icons);
# nothing inline, nothing from elsewhere, no framing, no form posted away.
CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
DOCS_PAGE_ENDPOINT = "api-docs.openapi_swagger_ui"
# The pages a browser shows (Swagger UI, the account page): scripts and styles of their own.
PAGE_ENDPOINTS = frozenset((DOCS_PAGE_ENDPOINT, "account_page.page"))
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and any ``extra`` fields.

    Every request writes a line, so the per-line work is kept small: the time is formatted once
    per second, and one encoder serves every line."""

    STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
    TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"

    def __init__(self) -> None:
        super().__init__()
        self._encoder = json.JSONEncoder(default=str)
        self._second: tuple[int, str] = (-1, "")

    def _time(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        cached = self._second  # (one read: another thread may replace it meanwhile)
        if cached[0] != second:
            cached = (second, time.strftime(self.TIME_FORMAT, self.converter(second)))
            self._second = cached
        return cached[1]

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self._time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = record.__dict__.get("fields")
        if fields is not None:
            # The access line passes its fields in one dict: no scan of the record.
            entry.update(fields)
        else:
            entry.update(
                {key: value for key, value in record.__dict__.items() if key not in self.STANDARD}
            )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self._encoder.encode(entry)


def _json_handler(stream) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    return handler


def configure_logging(app: Flask) -> None:
    """Application logs as JSON on stderr, the access log as JSON on stdout."""
    app.logger.handlers[:] = [_json_handler(sys.stderr)]
    app.logger.setLevel(logging.DEBUG if app.debug else logging.INFO)
    access = ACCESS_LOG
    access.handlers[:] = [_json_handler(sys.stdout)]
    access.setLevel(logging.INFO)
    access.propagate = False


def start_timer() -> None:
    g.request_started = time.perf_counter()


def finish_response(response):
    """Security headers on every response, then the access line. (Each read through the
    ``request``/``g``/``current_app`` proxies costs more than a local: they are read once.)"""
    app = current_app._get_current_object()
    current = request._get_current_object()
    app_globals = g._get_current_object()
    response.headers.update(SECURITY_HEADERS)
    response.headers["Content-Security-Policy"] = (
        DOCS_CONTENT_SECURITY_POLICY
        if current.endpoint in PAGE_ENDPOINTS
        else CONTENT_SECURITY_POLICY
    )
    if app.config["HSTS_ENABLED"]:
        response.headers["Strict-Transport-Security"] = HSTS
    started = app_globals.get("request_started", time.perf_counter())
    ACCESS_LOG.info(
        "request",
        extra={
            "fields": {
                "request_id": app_globals.get("request_id"),
                "server_request_id": app_globals.get("server_request_id"),
                "method": current.method,
                "path": current.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "user_id": app_globals.get("authenticated_user_id"),
                "remote_addr": current.remote_addr,
            }
        },
    )
    return response


def register_observability(app: Flask) -> None:
    configure_logging(app)
    app.before_request(start_timer)
    app.after_request(finish_response)
