"""End to end: the Procfile's release and web commands, as Heroku runs them, over real HTTP."""

import json
import os
import shlex
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def procfile_commands() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(base: str, method: str, path: str, body=None, token=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@pytest.fixture(scope="module")
def heroku_env(migrated_database):
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"APP_CONFIG", "TEST_DATABASE_URL", "FLASK_APP"}
    }
    env.update(
        PORT=str(port),
        DATABASE_URL="postgres://" + migrated_database.split("://", 1)[1],
        SECRET_KEY="e2e-" + "s" * 60,
        SEED_ADMIN_PASSWORD="e2e-admin-password",
        SEED_USER_PASSWORD="e2e-user-password",
        WEB_CONCURRENCY="2",
    )
    return env


@pytest.fixture(scope="module")
def live_server(heroku_env):
    """Run ``release`` to completion, then serve ``web`` until the module's tests are done."""
    commands = procfile_commands()
    release = subprocess.run(
        ["bash", "-c", commands["release"]],
        cwd=ROOT,
        env=heroku_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert release.returncode == 0, release.stderr
    server = subprocess.Popen(
        ["bash", "-c", "exec " + commands["web"]],
        cwd=ROOT,
        env=heroku_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{heroku_env['PORT']}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if request(base, "GET", "/health")[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail("the web process did not answer /health: " + server.communicate()[0])
    yield base
    server.send_signal(signal.SIGTERM)
    output = server.communicate(timeout=30)[0]
    assert server.returncode == 0, output
    assert heroku_env["SECRET_KEY"] not in output


def test_procfile_declares_release_and_web() -> None:
    commands = procfile_commands()

    assert set(commands) == {"release", "web"}
    assert shlex.split(commands["web"])[:2] == ["gunicorn", "app:create_app()"]
    assert "init-db" in commands["release"]


def test_login_and_profile_over_http(app, make_user, live_server) -> None:
    account = make_user("traveller")

    status, headers, body = request(
        live_server, "POST", "/login", {"username": "traveller", "password": account.password}
    )
    assert status == 200
    assert body["token_type"] == "Bearer"
    assert len(headers["X-Request-ID"]) == 32

    status, _, me = request(live_server, "GET", "/users/me", token=body["access_token"])
    assert status == 200
    assert me["username"] == "traveller"
    assert me["roles"] == ["user"]


def test_errors_over_http_are_json(app, live_server) -> None:
    status, _, body = request(live_server, "GET", "/users/me", token="not.a.token")
    assert status == 401
    assert body["error"] == "invalid_token"

    status, _, body = request(live_server, "GET", "/nowhere")
    assert status == 404
    assert body["error"] == "not_found"


def test_root_over_http_lists_the_api(app, live_server) -> None:
    status, _, body = request(live_server, "GET", "/")

    assert status == 200
    assert body["name"] == "Gatehouse"
    assert body["_links"]["users"] == "/users"
