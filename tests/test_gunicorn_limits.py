"""What gunicorn answers itself, and what it hands to the app, over raw sockets: the limits in
gunicorn.conf.py are the ones docs/security.md states, a request just inside them reaches the app
(JSON envelope, request id), and a chunked upload past 1 MiB is the app's 413."""

import contextlib
import re
import runpy
import socket
import time

import pytest

from tests.support.processes import ROOT, Server, read_answer

CONFIG = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
LINE = CONFIG["limit_request_line"]
FIELD = CONFIG["limit_request_field_size"]
FIELDS = CONFIG["limit_request_fields"]


pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(serve):
    return serve(WEB_CONCURRENCY="1")


def exchange(server: Server, head: bytes, body: bytes = b"") -> tuple[int, dict, bytes]:
    """Send one raw request (``head`` without its final blank line) and read the whole answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as connection:
        connection.sendall(head + b"Connection: close\r\n\r\n")
        # gunicorn may answer and close before reading a body it refuses.
        with contextlib.suppress(OSError):
            connection.sendall(body)
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := connection.recv(65536):
                answer += chunk
    header_block, _, payload = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = header_block.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, payload


def get(path: str, *headers: str) -> bytes:
    return ("\r\n".join([f"GET {path} HTTP/1.1", "Host: localhost", *headers]) + "\r\n").encode()


def assert_app_answer(headers: dict, payload: bytes, status: int) -> None:
    assert headers["Content-Type"] == "application/json"
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"])
    assert f'"status":{status}'.encode() in payload


def test_the_security_page_states_the_limits_in_force() -> None:
    security_page = (ROOT / "docs" / "security.md").read_text()

    assert f"request line over {LINE:,} bytes" in security_page
    assert f"header line over {FIELD:,} bytes" in security_page
    assert f"more than {FIELDS} headers" in security_page


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (get("/" + "a" * LINE), 400),
        (get("/users/me", "Authorization: Bearer " + "a" * FIELD), 431),
        (get("/", *(f"X-Filler-{number}: 1" for number in range(FIELDS + 1))), 431),
        (get("/", "Content-Length: 5", "Transfer-Encoding: chunked"), 400),
    ],
    ids=["request-line", "header-line", "header-count", "length-and-chunked"],
)
def test_past_a_limit_gunicorn_answers_itself(server, head, status) -> None:
    answered, headers, payload = exchange(server, head)

    assert answered == status
    assert headers["Content-Type"] == "text/html"
    assert "X-Request-ID" not in headers
    assert b"<html>" in payload


@pytest.mark.parametrize(
    ("head", "status", "error"),
    [
        (get("/" + "a" * (LINE - len("GET / HTTP/1.1") - 2)), 404, "not_found"),
        (get("/users/me", "Authorization: Bearer " + "a" * (FIELD - 40)), 401, "invalid_token"),
        (
            get("/no-such-page", *(f"X-Filler-{number}: 1" for number in range(FIELDS - 2))),
            404,
            "not_found",
        ),
    ],
    ids=["request-line", "header-line", "header-count"],
)
def test_just_inside_the_limits_the_app_answers_in_json(server, head, status, error) -> None:
    answered, headers, payload = exchange(server, head)

    assert answered == status
    assert_app_answer(headers, payload, status)
    assert f'"error":"{error}"'.encode() in payload


def test_a_chunked_upload_past_one_mebibyte_is_the_apps_413(server) -> None:
    body = b'{"username": "' + b"a" * (2 * 1024 * 1024) + b'", "password": "x"}'
    head = (
        b"POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n"
    )

    status, headers, payload = exchange(server, head, b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))

    assert status == 413
    assert_app_answer(headers, payload, 413)
    assert b'"error":"payload_too_large"' in payload


def test_an_idle_keep_alive_connection_outlives_the_old_five_seconds(server) -> None:
    """Heroku's router reuses a connection idle up to 90 s: gunicorn must not close it first
    (``keepalive`` 95 s, above the router's). Idle here for 6.5 s, past gunicorn's old 5 s."""
    assert CONFIG["keepalive"] > 90
    request = get("/health") + b"\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as connection:
        reader = connection.makefile("rb")
        connection.sendall(request)
        first = read_answer(reader)
        time.sleep(6.5)
        connection.sendall(request)
        second = read_answer(reader)

    assert first == second == (200, b'{"database":"ok","status":"ok"}\n')
