"""A database outage under a running multi-worker server: every request that needs the database
answers 503 in the envelope, quickly; /health says so; service resumes by itself."""

import time

import pytest

from bench.harness import Database, Server, call, production_env


@pytest.fixture
def outage_stack(tmp_path):
    database = Database(tmp_path)
    env = production_env(database.url, WEB_CONCURRENCY="2")
    database.flask("init-db", env=env)
    database.flask("seed-db", env=env)
    server = Server(env, tmp_path / "web.log")
    server.wait_until_up()
    yield database, server
    server.stop()
    database.cleanup()


def test_outage_answers_503_fast_and_recovers_without_restart(outage_stack) -> None:
    database, server = outage_stack
    base = server.base_url
    _, _, body = call(
        base, "POST", "/login", {"username": "admin", "password": "harness-keeper-password"}
    )
    token = body["access_token"]
    assert call(base, "GET", "/users/me", token=token)[0] == 200
    workers_before = sorted(server.worker_pids())

    database.stop()
    for method, path, payload in [
        ("GET", "/users/me", None),
        ("GET", "/users", None),
        ("POST", "/login", {"username": "admin", "password": "harness-keeper-password"}),
        ("GET", "/health", None),
        ("GET", "/users/me", None),
        ("GET", "/health", None),
    ]:
        started = time.monotonic()
        status, headers, answer = call(base, method, path, payload, token=token)
        elapsed = time.monotonic() - started
        assert status == 503, (path, answer)
        assert answer["error"] == "service_unavailable"
        assert answer["request_id"] == headers["X-Request-ID"]
        assert elapsed < 5, (path, elapsed)
    assert call(base, "GET", "/health")[2]["details"] == {"database": "unavailable"}

    database.start()
    restarted = time.monotonic()
    recovered = None
    while time.monotonic() - restarted < 15:
        if call(base, "GET", "/users/me", token=token)[0] == 200:
            recovered = time.monotonic() - restarted
            break
        time.sleep(0.1)

    assert recovered is not None, "service did not come back within 15 s"
    assert call(base, "GET", "/health")[2] == {"status": "ok", "database": "ok"}
    # Every worker serves again (not only the one that answered first).
    statuses = {call(base, "GET", "/users/me", token=token)[0] for _ in range(20)}
    assert statuses == {200}
    assert sorted(server.worker_pids()) == workers_before
    log = server.log_path.read_text()
    assert "Traceback" not in log
    print(f"recovered {recovered:.2f} s after the database came back")
