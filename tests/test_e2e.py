"""End to end: what Heroku runs (release, postdeploy, web), as written, over real HTTP, with
DATABASE_URL in Heroku's ``postgres://`` form and a real PostgreSQL."""

import json
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.processes import ROOT, SIGNING_KEY, call, free_port, wait_until

pytestmark = pytest.mark.e2e

SECRET_KEY = "e2e-" + "s" * 60
ADMIN_PASSWORD = "e2e-keeper-password"


def procfile_commands() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def postdeploy_command() -> str:
    return json.loads((ROOT / "app.json").read_text())["scripts"]["postdeploy"]


def run_step(command: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def heroku_env(migrated_database, tmp_path_factory):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"APP_CONFIG", "TEST_DATABASE_URL", "FLASK_APP"}
    }
    env.update(
        PORT=str(free_port()),
        DATABASE_URL="postgres://" + migrated_database.split("://", 1)[1],
        SECRET_KEY=SECRET_KEY,
        SIGNING_KEYS=SIGNING_KEY,
        SEED_ADMIN_PASSWORD=ADMIN_PASSWORD,
        SEED_USER_PASSWORD="e2e-member-password",
        WEB_CONCURRENCY="2",
        APP_CONFIG="production",
        # Delivery to files, so the worker's e-mails can be read (SMTP is outside the machine).
        MAIL_BACKEND="file",
        MAIL_FILE_PATH=str(tmp_path_factory.mktemp("mail")),
    )
    return env


@pytest.fixture(scope="module")
def live_server(heroku_env, serve):
    """``release``, then serve ``web`` as the Procfile writes it, with its output in a file the
    tests can read; a SIGTERM at the end stops it cleanly (exit 0)."""
    release = run_step(procfile_commands()["release"], heroku_env)
    assert release.returncode == 0, release.stderr
    server = serve(
        env=heroku_env,
        port=int(heroku_env["PORT"]),
        command=["bash", "-c", "exec " + procfile_commands()["web"]],
    )
    yield server.base_url, server.log_path
    assert server.stop() == 0, server.log_path.read_text()


def access_lines(output_path: Path) -> list[dict]:
    lines = []
    for line in output_path.read_text().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("logger") == "gatehouse.access":
                lines.append(entry)
    return lines


def test_procfile_declares_release_web_and_worker() -> None:
    commands = procfile_commands()

    assert set(commands) == {"release", "web", "worker"}
    assert "mail-worker" in commands["worker"]
    assert shlex.split(commands["web"]) == ["gunicorn", "app:create_app()"]
    assert "init-db" in commands["release"]


def test_postdeploy_seeds_and_the_seeded_admin_logs_in(app, heroku_env, live_server) -> None:
    base, _ = live_server
    seeded = run_step(postdeploy_command(), heroku_env)

    assert seeded.returncode == 0, seeded.stderr
    assert "admin: created (role admin), password set" in seeded.stdout
    assert ADMIN_PASSWORD not in seeded.stdout + seeded.stderr
    status, _, body = call(
        base, "POST", "/login", {"username": "admin", "password": ADMIN_PASSWORD}
    )
    assert status == 200
    assert body["token_type"] == "Bearer"


def test_login_and_profile_over_http(app, make_user, live_server) -> None:
    base, _ = live_server
    account = make_user("traveller")

    status, headers, body = call(
        base, "POST", "/login", {"username": "traveller", "password": account.password}
    )
    assert status == 200
    assert body["token_type"] == "Bearer"
    assert len(headers["X-Request-ID"]) == 32
    assert headers["Strict-Transport-Security"].startswith("max-age=")

    status, _, me = call(base, "GET", "/users/me", token=body["access_token"])
    assert status == 200
    assert me["username"] == "traveller"
    assert me["roles"] == ["user"]


def test_errors_over_http_are_json(app, live_server) -> None:
    base, _ = live_server

    status, _, body = call(base, "GET", "/users/me", token="not.a.token")
    assert status == 401
    assert body["error"] == "invalid_token"
    status, _, body = call(base, "GET", "/nowhere")
    assert status == 404
    assert body["error"] == "not_found"


def test_access_log_is_json_with_ids_and_no_secrets(app, make_user, live_server) -> None:
    base, output_path = live_server
    account = make_user("logged")
    _, _, token_body = call(
        base, "POST", "/login", {"username": "logged", "password": account.password}
    )
    token = token_body["access_token"]
    started = time.monotonic()
    status, _, me = call(
        base, "GET", "/users/me", token=token, headers={"X-Request-ID": "trace-me-1"}
    )
    elapsed_ms = (time.monotonic() - started) * 1000
    assert (status, me["username"]) == (200, "logged")

    [traced] = wait_until(
        lambda: [line for line in access_lines(output_path) if line["request_id"] == "trace-me-1"],
        what="the request's access log line",
    )
    assert traced["method"] == "GET"
    assert traced["path"] == "/users/me"
    assert traced["status"] == 200
    assert traced["user_id"] == account.id
    # The time the app spent on it: some, and no more than the client waited.
    assert 0 < traced["duration_ms"] <= elapsed_ms
    everything = output_path.read_text()
    private_key_body = SIGNING_KEY.splitlines()[1]
    for secret in (token, account.password, SECRET_KEY, ADMIN_PASSWORD, "argon2id"):
        assert secret not in everything
    for secret in (private_key_body, "PRIVATE KEY"):
        assert secret not in everything


def test_the_worker_process_sends_what_the_web_process_queued(
    app, make_user, heroku_env, live_server
) -> None:
    base, _ = live_server
    account = make_user("mailed")
    outbox = Path(heroku_env["MAIL_FILE_PATH"])

    status, _, _ = call(base, "POST", "/password/forgot", {"email": account.email})
    queued_only = list(outbox.iterdir())
    worker = subprocess.Popen(
        # As Heroku runs it (bash runs a lone command in its own place, so SIGTERM reaches it).
        ["bash", "-c", procfile_commands()["worker"]],
        cwd=ROOT,
        env=heroku_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not list(outbox.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=30)[0]

    assert status == 202, output
    assert queued_only == []
    assert len(list(outbox.iterdir())) == 1, output
    assert f"To: {account.email}" in next(outbox.iterdir()).read_text()
    assert worker.returncode == 0, output
