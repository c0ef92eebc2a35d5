"""A handful of slow clients cannot take the API down: clients that send their request's headers
a line a second, or its body a byte a second, hold a thread each, not a worker, and /health and
GET /users/me keep answering at once (with one thread per worker, six such clients held every
worker until gunicorn gave up on them; bench/README.md, "Choosing the server")."""

import time

import pytest

from bench.harness import call, production_env, serving, trickling

SLOW_CLIENTS = 6
PASSWORD = "slow-clients-password"
# An answer within this many seconds is an answer at once: what one request takes on a busy
# machine, far from the 30 s a held worker would take to come back.
PROMPTLY = 1.0


@pytest.fixture(scope="module")
def server(migrated_database, tmp_path_factory):
    with serving(
        production_env(migrated_database, WEB_CONCURRENCY="2"),
        tmp_path_factory.mktemp("slow") / "web.log",
    ) as running:
        yield running


@pytest.fixture
def token(server, make_user) -> str:
    make_user("patient", password=PASSWORD)
    status, _, body = call(
        server.base_url, "POST", "/login", {"username": "patient", "password": PASSWORD}
    )
    assert status == 200, body
    return body["access_token"]


@pytest.mark.parametrize("part", ["headers", "body"])
def test_answers_come_at_once_while_slow_clients_hold_connections(app, server, token, part) -> None:
    answers = []
    with trickling(server.port, part, clients=SLOW_CLIENTS):
        for _ in range(5):
            for path in ("/health", "/users/me"):
                started = time.monotonic()
                status, _, body = call(server.base_url, "GET", path, token=token, timeout=5)
                answers.append((path, status, body, time.monotonic() - started))

    assert [status for _, status, _, _ in answers] == [200] * 10
    assert all(seconds < PROMPTLY for _, _, _, seconds in answers), answers
    health = [body for path, _, body, _ in answers if path == "/health"]
    assert health == [{"status": "ok", "database": "ok"}] * 5
    assert {body["username"] for path, _, body, _ in answers if path == "/users/me"} == {"patient"}
