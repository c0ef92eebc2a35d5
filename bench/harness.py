"""Real processes for end-to-end runs: an embedded PostgreSQL made ready for the app, and
gunicorn serving it, as in production. Used by the load and benchmark scripts, the Postman run and
the end-to-end tests, so they all start things the same way."""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.embedded_db import start_embedded_postgres  # noqa: E402
from app.tokens.keys import generate, to_pem  # noqa: E402

# The signing key of every production process these runs start (production needs one).
SIGNING_KEY = to_pem(generate())

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
        SIGNING_KEYS=SIGNING_KEY,
        SEED_ADMIN_PASSWORD="harness-keeper-password",
        SEED_USER_PASSWORD="harness-member-password",
        RATELIMIT_ENABLED="false",
    )
    env.update(overrides)
    return env


@contextlib.contextmanager
def serving(env: dict[str, str], log_path: Path, **options):
    """A gunicorn ``Server`` for the block: up when it starts, stopped when it ends."""
    server = Server(env, log_path, **options)
    try:
        server.wait_until_up()
        yield server
    finally:
        server.stop()


class Server:
    """gunicorn serving ``app:create_app()`` with the committed gunicorn.conf.py."""

    def __init__(
        self, env: dict[str, str], log_path: Path, app: str = "app:create_app()", port=None
    ):
        self.port = port or free_port()
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


def _as_server_user() -> dict:
    """Run a server as the embedded PostgreSQL's system user when this process is root
    (PgBouncer refuses to run as root)."""
    return {"user": "embedded_postgres"} if os.geteuid() == 0 else {}


def _wait_for_port(port: int, process: subprocess.Popen, log_path: Path, seconds: float = 15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited: {log_path.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"did not listen on {port}: {log_path.read_text()[-2000:]}")


class PgBouncer:
    """Debian's PgBouncer (1.18) in transaction pooling mode in front of an embedded PostgreSQL,
    as Heroku's connection pooling puts it in front of Heroku Postgres."""

    def __init__(self, database_url: str, pool_size: int = 10) -> None:
        from sqlalchemy.engine import make_url

        target = make_url(database_url)
        # Its own directory under /tmp: as root it runs as another user, who must reach it.
        directory = Path(tempfile.mkdtemp(prefix="gatehouse-pgbouncer-"))
        directory.chmod(0o777)
        self.directory = directory
        self.port = free_port()
        self.log_path = directory / "pgbouncer.log"
        (directory / "userlist.txt").write_text(f'"{target.username}" ""\n')
        config = directory / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"gatehouse = host={target.query['host']} port=5432 dbname={target.database} "
            f"user={target.username}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {directory / 'userlist.txt'}\n"
            "pool_mode = transaction\nmax_client_conn = 500\n"
            f"default_pool_size = {pool_size}\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            f"logfile = {self.log_path}\npidfile = {directory / 'pgbouncer.pid'}\n"
        )
        self.process = subprocess.Popen(
            ["pgbouncer", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **_as_server_user(),
        )
        _wait_for_port(self.port, self.process, self.log_path)
        self.url = f"postgresql+psycopg2://{target.username}@127.0.0.1:{self.port}/gatehouse"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.directory, ignore_errors=True)


class Redis:
    """Debian's redis-server on a free port, without persistence."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log_path = directory / "redis.log"
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(directory),
                "--logfile",
                str(self.log_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, self.process, self.log_path)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
