"""Per-request plumbing: request ids, refusing bodies the API cannot read, and keeping answers
out of caches."""

import io
import re
import uuid

from flask import Flask, current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is echoed when it is short and made of these characters (it ends up in logs
# and audit events); anything else is replaced by the server's.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def assign_request_id() -> None:
    """The request's ids: the server's own, always (``server_request_id``), and the one the
    response carries (``request_id``): the client's when it is sane, else the server's."""
    g.server_request_id = uuid.uuid4().hex
    candidate = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = candidate if SANE_REQUEST_ID.fullmatch(candidate) else g.server_request_id


def refuse_unreadable_body() -> None:
    """413 before anything reads an oversized body; 415 for a body that is not JSON."""
    current = request._get_current_object()
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    length = current.content_length
    if length is not None and length > limit:
        raise RequestEntityTooLarge()
    chunked = "chunked" in current.headers.get("Transfer-Encoding", "")
    if (length or chunked) and not current.is_json:
        raise UnsupportedMediaType()
    if chunked and length is None:
        buffer_chunked_body(current.environ, limit)


def buffer_chunked_body(environ: dict, limit: int) -> None:
    """Read a chunked body (no Content-Length) up to ``limit`` bytes, 413 past it.

    Werkzeug caps such a stream at the limit but then hands on the first ``limit`` bytes as if
    they were the whole body (a 2 MiB upload became "not valid JSON"). Reading one byte more
    tells a body of exactly the limit from a longer one; the bytes read replace the input.
    Only servers that end the stream themselves (``wsgi.input_terminated``: gunicorn, werkzeug's)
    are read this way; on others werkzeug reads no chunked body at all."""
    if "wsgi.input_terminated" not in environ:
        return
    body = environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        raise RequestEntityTooLarge()
    environ["wsgi.input"] = io.BytesIO(body)


def add_request_id_header(response):
    response.headers[REQUEST_ID_HEADER] = g.get("request_id") or uuid.uuid4().hex
    return response


def forbid_storing(response):
    """No cache keeps an answer unless its view chose its own caching (the key set and the
    discovery document, the docs' assets): answers carry tokens, codes and personal data, and a
    route added tomorrow cannot forget this (RFC 6749 5.1, RFC 9111)."""
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    return response


def register_request_hooks(app: Flask) -> None:
    app.before_request(assign_request_id)
    app.before_request(refuse_unreadable_body)
    app.after_request(add_request_id_header)
    app.after_request(forbid_storing)
