"""Per-request plumbing: request ids, and refusing bodies the API cannot read."""

import re
import uuid

from flask import Flask, current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

REQUEST_ID_HEADER = "X-Request-ID"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def assign_request_id() -> None:
    """Echo the client's request id when it is sane, else make one."""
    candidate = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = candidate if SANE_REQUEST_ID.fullmatch(candidate) else uuid.uuid4().hex


def refuse_unreadable_body() -> None:
    """413 before anything reads an oversized body; 415 for a body that is not JSON."""
    current = request._get_current_object()
    length = current.content_length
    if length is not None and length > current_app.config["MAX_CONTENT_LENGTH"]:
        raise RequestEntityTooLarge()
    has_body = bool(length) or "chunked" in current.headers.get("Transfer-Encoding", "")
    if has_body and not current.is_json:
        raise UnsupportedMediaType()


def add_request_id_header(response):
    response.headers[REQUEST_ID_HEADER] = g.get("request_id") or uuid.uuid4().hex
    return response


def register_request_hooks(app: Flask) -> None:
    app.before_request(assign_request_id)
    app.before_request(refuse_unreadable_body)
    app.after_request(add_request_id_header)
