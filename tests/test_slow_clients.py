"""A handful of slow clients cannot take the API down: clients that send their request a header
line every second hold a thread each, not a worker, and /health keeps answering (with sync
workers, two such clients held both workers until gunicorn killed them)."""

import contextlib
import socket
import threading
import time

import pytest

from bench.harness import call, production_env, serving

SLOW_CLIENTS = 6


@pytest.fixture(scope="module")
def server(migrated_database, tmp_path_factory):
    with serving(
        production_env(migrated_database, WEB_CONCURRENCY="2"),
        tmp_path_factory.mktemp("slow") / "web.log",
    ) as running:
        yield running


def trickle(port: int, stop: threading.Event) -> None:
    """A request whose headers never end: one more line every second."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
        line = 0
        while not stop.wait(1.0):
            line += 1
            with contextlib.suppress(OSError):
                connection.sendall(b"X-Slow-%d: 1\r\n" % line)


def test_health_answers_while_slow_clients_hold_connections(server) -> None:
    stop = threading.Event()
    clients = [
        threading.Thread(target=trickle, args=(server.port, stop), daemon=True)
        for _ in range(SLOW_CLIENTS)
    ]
    for client in clients:
        client.start()
    time.sleep(2)  # every slow client is connected and has sent a line or two
    try:
        answers = [call(server.base_url, "GET", "/health", timeout=5) for _ in range(10)]
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=5)

    assert [status for status, _, _ in answers] == [200] * 10
    assert all(body == {"status": "ok", "database": "ok"} for _, _, body in answers)
