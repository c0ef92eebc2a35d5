"""What Heroku's build reads, the gunicorn settings, the Heroku CLI helper, and the headers and
logs operators rely on."""

import json
import logging
import os
import runpy
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from sqlalchemy import event

from app.extensions import db
from app.observability import ACCESS_LOGGER, JsonFormatter
from tests.support.processes import SIGNING_KEY

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def test_requirements_pin_every_runtime_dependency_within_its_range() -> None:
    pins = _pins()

    for dependency in PYPROJECT["project"]["dependencies"]:
        requirement = Requirement(dependency)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is missing from requirements.txt (run invoke lock)"
        assert requirement.specifier.contains(pins[name]), (name, pins[name])


def test_requirements_hold_no_development_tools() -> None:
    pins = _pins()

    for dependency in PYPROJECT["project"]["optional-dependencies"]["dev"]:
        assert canonicalize_name(Requirement(dependency).name) not in pins


def test_python_version_file_satisfies_requires_python() -> None:
    version = (ROOT / ".python-version").read_text().strip()

    assert SpecifierSet(PYPROJECT["project"]["requires-python"]).contains(version + ".0")
    assert f"{sys.version_info.major}.{sys.version_info.minor}" >= version


def test_app_json_provisions_postgres_secrets_and_seeding() -> None:
    manifest = json.loads((ROOT / "app.json").read_text())

    assert {"plan": "heroku-postgresql"} in manifest["addons"]
    assert manifest["env"]["SECRET_KEY"]["generator"] == "secret"
    assert manifest["env"]["SIGNING_KEYS"]["required"] is True
    assert manifest["env"]["SEED_ADMIN_PASSWORD"]["required"] is True
    assert manifest["env"]["SEED_USER_PASSWORD"]["required"] is True
    assert manifest["env"]["APP_CONFIG"]["value"] == "production"
    assert "seed-db" in manifest["scripts"]["postdeploy"]
    assert manifest["formation"] == {"web": {"quantity": 1}, "worker": {"quantity": 1}}


def test_gunicorn_settings_follow_heroku_variables(monkeypatch) -> None:
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("GUNICORN_THREADS", "4")

    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))

    assert settings["bind"] == "0.0.0.0:8123"
    assert settings["workers"] == 3
    assert (settings["worker_class"], settings["threads"]) == ("gthread", 4)
    assert settings["graceful_timeout"] < 30
    assert settings["accesslog"] is None
    assert settings["errorlog"] == "-"


def _invoke(args: list[str], path: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PATH": path, **env}
    environment.pop("HEROKU_APP_NAME", None)
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def fake_heroku_cli(tmp_path) -> str:
    """A stand-in for the Heroku CLI (Heroku itself is off this machine): it answers
    ``config:get DATABASE_URL -a gatehouse-demo`` as the real one would, and fails otherwise."""
    cli = tmp_path / "heroku"
    cli.write_text(
        "#!/bin/sh\n"
        'if [ "$*" = "config:get DATABASE_URL -a gatehouse-demo" ]; then\n'
        "  echo postgres://u:p@db.example.com:5432/d1\n"
        "else\n"
        '  echo " ▸    Couldn\'t find that app." >&2; exit 1\n'
        "fi\n"
    )
    cli.chmod(0o755)
    return f"{tmp_path}:{os.path.dirname(sys.executable)}:/usr/bin:/bin"


@pytest.mark.slow
def test_heroku_db_url_reads_the_url_with_the_cli(fake_heroku_cli) -> None:
    result = _invoke(["heroku-db-url"], fake_heroku_cli, HEROKU_APP_NAME="gatehouse-demo")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "postgresql+psycopg2://u:p@db.example.com:5432/d1"


@pytest.mark.slow
def test_heroku_db_url_reports_an_unknown_app_in_one_line(fake_heroku_cli) -> None:
    result = _invoke(["heroku-db-url"], fake_heroku_cli, HEROKU_APP_NAME="no-such-app")

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: heroku config:get DATABASE_URL -a no-such-app failed: ▸    Couldn't find that app."
    )


@pytest.mark.slow
def test_heroku_db_url_without_the_cli_says_so_in_one_line() -> None:
    result = _invoke(
        ["heroku-db-url"], f"{os.path.dirname(sys.executable)}:/bin", HEROKU_APP_NAME="x"
    )

    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: the Heroku CLI is not installed")


@pytest.mark.slow
def test_heroku_db_url_needs_the_app_name(fake_heroku_cli) -> None:
    result = _invoke(["heroku-db-url"], fake_heroku_cli)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: HEROKU_APP_NAME is not set: name the Heroku app to read from"
    )


def test_security_headers_on_every_response(client) -> None:
    for response in (client.get("/"), client.get("/nowhere"), client.post("/login", json={})):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "Strict-Transport-Security" not in response.headers


def test_hsts_in_production(production_app) -> None:
    response = production_app.test_client().get("/")

    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


@pytest.fixture
def production_app(app, monkeypatch, database_url):
    from app import create_app

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "p" * 40)
    monkeypatch.setenv("SIGNING_KEYS", SIGNING_KEY)
    monkeypatch.setenv("CORS_ORIGINS", "https://app.example.com, https://admin.example.com")
    return create_app("production")


def test_cors_allows_only_the_configured_origins(production_app) -> None:
    client = production_app.test_client()

    preflight = client.options(
        "/users/me",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization",
        },
    )
    allowed = client.get("/", headers={"Origin": "https://admin.example.com"})
    refused = client.get("/", headers={"Origin": "https://evil.example.com"})

    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://admin.example.com"
    assert "X-Request-ID" in allowed.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_no_cors_headers_without_cors_origins(client) -> None:
    response = client.get("/", headers={"Origin": "https://app.example.com"})

    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


def test_each_request_writes_one_json_access_line(client, member, auth) -> None:
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.addHandler(handler)
    try:
        response = client.get("/users/me?x=1", headers={**auth(member), "X-Request-ID": "abc"})
    finally:
        logger.removeHandler(handler)

    assert response.status_code == 200
    [record] = records
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "abc"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/users/me", 200)
    assert line["user_id"] == member.id
    assert line["level"] == "info"
    assert "Bearer" not in json.dumps(line)


def test_health_uses_a_short_statement_timeout(app, client) -> None:
    """A database that answers slowly makes /health answer 503 within HEALTH_TIMEOUT_MS,
    instead of holding the request (and a worker) for as long as the database takes. The slow
    answer is made here: every statement of the check is followed by a five-second sleep."""
    app.config["HEALTH_TIMEOUT_MS"] = 300
    with app.app_context():
        engine = db.engine

    def slowly(connection, cursor, statement, parameters, *args):
        return statement + "; SELECT pg_sleep(5)", parameters

    fast = client.get("/health")
    event.listen(engine, "before_cursor_execute", slowly, retval=True)
    try:
        started = time.monotonic()
        slow = client.get("/health")
        elapsed = time.monotonic() - started
    finally:
        event.remove(engine, "before_cursor_execute", slowly)

    assert fast.status_code == 200
    assert fast.get_json() == {"status": "ok", "database": "ok"}
    assert slow.status_code == 503
    assert slow.get_json()["error"] == "service_unavailable"
    assert slow.get_json()["details"] == {"database": "unavailable"}
    assert elapsed < 4


def test_log_lines_carry_the_second_they_were_written_in() -> None:
    """The formatter reuses a second's formatted time: a line of the next second gets its own."""
    formatter = JsonFormatter()
    times = []
    for created in (100.2, 100.9, 101.0, 100.5):
        record = logging.makeLogRecord({"msg": "hello", "created": created})
        line = json.loads(formatter.format(record))
        assert line["message"] == "hello"
        times.append(line["time"])

    expected = [
        time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(s)) for s in (100, 100, 101, 100)
    ]
    assert times == expected
