"""Real processes for end-to-end runs: an embedded PostgreSQL made ready for the app, and
gunicorn serving it, as in production. Used by the load and benchmark scripts, the Postman run and
the end-to-end tests, so they all start things the same way."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.embedded_db import start_embedded_postgres  # noqa: E402

FLASK = [sys.executable, "-m", "flask", "--app", "app"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(base_url: str, method: str, path: str, body=None, token=None, timeout=10, headers=None):
    """One HTTP request; returns (status, headers, parsed JSON body or None)."""
    headers = dict(headers or {})
    if body is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base_url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, dict(response.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, dict(error.headers), json.loads(raw) if raw else None


class Database:
    """An embedded PostgreSQL in ``directory``, migrated, that can be stopped and started."""

    def __init__(self, directory: Path) -> None:
        self.server = start_embedded_postgres(Path(directory) / "data", delete_on_exit=True)
        self.url = self.server.url()

    def flask(self, *args: str, env: dict[str, str]) -> str:
        result = subprocess.run(
            [*FLASK, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()

    def cleanup(self) -> None:
        self.server.cleanup()


def production_env(database_url: str, **overrides: str) -> dict[str, str]:
    """The environment of a production process on this machine (rate limits off by default:
    the runs send many requests from one address)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TEST_")}
    env.update(
        APP_CONFIG="production",
        FLASK_SKIP_DOTENV="1",
        DATABASE_URL=database_url,
        SECRET_KEY="harness-secret-key-" + "k" * 40,
        SEED_ADMIN_PASSWORD="harness-keeper-password",
        SEED_USER_PASSWORD="harness-member-password",
        RATELIMIT_ENABLED="false",
    )
    env.update(overrides)
    return env


class Server:
    """gunicorn serving ``app:create_app()`` with the committed gunicorn.conf.py."""

    def __init__(self, env: dict[str, str], log_path: Path, app: str = "app:create_app()"):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = {**env, "PORT": str(self.port)}
        with log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{self.port}"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_until_up(self, seconds: float = 30, path: str = "/health") -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn exited: " + self.log_path.read_text()[-2000:])
            try:
                if call(self.base_url, "GET", path, timeout=2)[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not answer in time: " + self.log_path.read_text()[-2000:])

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)
