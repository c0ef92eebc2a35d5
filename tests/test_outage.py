"""A database outage under a running multi-worker server: every request that needs the database
answers 503 in the envelope, quickly; /health says so; service resumes by itself."""

import time

import pytest

from tests.support.processes import SEED_ADMIN_PASSWORD, Database, call, production_env
from tests.support.signin import tokens_over_http

pytestmark = pytest.mark.e2e


@pytest.fixture
def outage_stack(tmp_path, serve):
    """A server on a database of its own, which the test stops and starts."""
    database = Database(tmp_path)
    env = production_env(database.url, WEB_CONCURRENCY="2")
    database.flask("init-db", env=env)
    database.flask("seed-db", env=env)
    server = serve(env=env)
    yield database, server
    server.stop()
    database.cleanup()


def test_outage_answers_503_fast_and_recovers_without_restart(outage_stack) -> None:
    database, server = outage_stack
    base = server.base_url
    token = tokens_over_http(base, "admin", SEED_ADMIN_PASSWORD)["access_token"]
    status, _, me = call(base, "GET", "/users/me", token=token)
    assert (status, me["username"]) == (200, "admin")
    workers_before = sorted(server.worker_pids())

    database.stop()
    for method, path, payload in [
        ("GET", "/users/me", None),
        ("GET", "/users", None),
        ("POST", "/login", {"username": "admin", "password": SEED_ADMIN_PASSWORD}),
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
    status, _, health = call(base, "GET", "/health")
    assert (status, health["details"]) == (503, {"database": "unavailable"})

    database.start()
    restarted = time.monotonic()
    recovered = None
    while time.monotonic() - restarted < 15:
        if call(base, "GET", "/users/me", token=token)[0] == 200:
            recovered = time.monotonic() - restarted
            break
        time.sleep(0.1)

    assert recovered is not None, "service did not come back within 15 s"
    assert call(base, "GET", "/health")[::2] == (200, {"status": "ok", "database": "ok"})
    # Every worker serves again (not only the one that answered first).
    answers = {
        (status, body["username"])
        for status, _, body in (call(base, "GET", "/users/me", token=token) for _ in range(20))
    }
    assert answers == {(200, "admin")}
    assert sorted(server.worker_pids()) == workers_before
    log = server.log_path.read_text()
    assert "Traceback" not in log
    print(f"recovered {recovered:.2f} s after the database came back")
