"""Real processes for the end-to-end tests: an embedded PostgreSQL made ready for the app,
gunicorn serving it as in production, PgBouncer and Redis, and plain HTTP calls to them.

The benchmark scripts keep their own harness (``bench/harness.py``): the tests do not depend on
the benchmark, nor the benchmark on the tests."""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from app.embedded_db import start_embedded_postgres
from app.tokens.key_material import generate, to_pem

ROOT = Path(__file__).resolve().parents[2]
FLASK = [sys.executable, "-m", "flask", "--app", "app"]
# The signing key of every production process the tests start (production needs one).
SIGNING_KEY = to_pem(generate())
SEED_ADMIN_PASSWORD = "harness-keeper-password"
SEED_USER_PASSWORD = "harness-member-password"


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


def wait_until(condition: Callable[[], object], seconds: float = 10, what: str = "the condition"):
    """Poll ``condition`` until it returns something true (returned), or fail after
    ``seconds``: a wait on what the test needs, never a fixed sleep."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {seconds} s")
        time.sleep(0.05)


def production_env(database_url: str, **overrides: str) -> dict[str, str]:
    """The environment of a production process on this machine (rate limits off by default:
    the tests send many requests from one address)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TEST_")}
    env.update(
        APP_CONFIG="production",
        FLASK_SKIP_DOTENV="1",
        DATABASE_URL=database_url,
        SECRET_KEY="harness-secret-key-" + "k" * 40,
        SIGNING_KEYS=SIGNING_KEY,
        SEED_ADMIN_PASSWORD=SEED_ADMIN_PASSWORD,
        SEED_USER_PASSWORD=SEED_USER_PASSWORD,
        RATELIMIT_ENABLED="false",
    )
    env.update(overrides)
    return env


def flask(
    *args: str, env: dict[str, str], timeout: float = 120, cwd: Path = ROOT
) -> subprocess.CompletedProcess:
    """``flask --app app ARGS`` in its own process (of the project in ``cwd``)."""
    return subprocess.run(
        [*FLASK, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


class Database:
    """An embedded PostgreSQL of its own in ``directory`` (for tests that stop and start it, or
    need one no other test touches)."""

    def __init__(self, directory: Path) -> None:
        self.server = start_embedded_postgres(Path(directory) / "data", delete_on_exit=True)
        self.url = self.server.url()

    def flask(self, *args: str, env: dict[str, str]) -> str:
        result = flask(*args, env=env)
        if result.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()

    def cleanup(self) -> None:
        self.server.cleanup()


class Server:
    """The app served as in production: gunicorn with the committed gunicorn.conf.py (or
    ``command``, with ``PORT`` in its environment), its output in ``log_path``; the project in
    ``cwd`` (this one, or a copy)."""

    def __init__(
        self, env: dict[str, str], log_path: Path, port=None, command=None, cwd: Path = ROOT
    ) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = {**env, "PORT": str(self.port)}
        command = command or [
            sys.executable,
            "-m",
            "gunicorn",
            "app:create_app()",
            "--bind",
            f"127.0.0.1:{self.port}",
        ]
        with log_path.open("w") as log:
            self.process = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_until_up(self, seconds: float = 30, path: str = "/health", status: int = 200) -> None:
        """Until ``GET path`` answers ``status``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the server exited: " + self.log_path.read_text()[-2000:])
            try:
                if call(self.base_url, "GET", path, timeout=2)[0] == status:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(
            "the server did not answer in time: " + self.log_path.read_text()[-2000:]
        )

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def stop(self) -> int:
        """SIGTERM (a graceful shutdown), then its exit status; stopping twice is harmless."""
        if self.process.poll() is None:
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
    """Debian's PgBouncer in transaction pooling mode in front of an embedded PostgreSQL, as
    Heroku's connection pooling puts it in front of Heroku Postgres."""

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
            [required_tool("pgbouncer"), str(config)],
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
                required_tool("redis-server"),
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


# The Debian package that provides each tool the tests drive; ``invoke test`` installs them.
DEBIAN_PACKAGES = {
    "chromium": "chromium",
    "node": "nodejs",
    "npm": "npm",
    "pgbouncer": "pgbouncer",
    "redis-server": "redis-server",
}


def required_tool(command: str) -> str:
    """The path of ``command``; a test that needs a missing tool fails (never skips), naming
    the command that installs it."""
    path = shutil.which(command)
    if path is None:
        package = DEBIAN_PACKAGES.get(command, command)
        raise AssertionError(
            f"{command} is missing: `invoke test` installs it when run as root "
            f"(else: sudo apt-get install {package})"
        )
    return path


def read_answer(reader) -> tuple[int, bytes]:
    """The status and body of the next HTTP/1.1 answer on a connection's ``makefile("rb")``
    (its body sized by Content-Length): for tests that keep one connection open."""
    status = int(reader.readline().split()[1])
    length = 0
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return status, reader.read(length)


def _trickle(port: int, part: str, stop: threading.Event, started: threading.Event) -> None:
    """One slow client: a request whose headers never end (a header line every second), or
    whose body never ends (a byte every second of the 1,000 its Content-Length promises)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        if part == "headers":
            connection.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
        else:
            connection.sendall(
                b"POST /login HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
            )
        line = 0
        while not stop.wait(1.0):
            line += 1
            chunk = b"X-Slow-%d: 1\r\n" % line if part == "headers" else b" "
            with contextlib.suppress(OSError):
                connection.sendall(chunk)
            started.set()


@contextlib.contextmanager
def trickling(port: int, part: str, clients: int = 6):
    """``clients`` slow clients trickling their request's ``part`` ("headers" or "body") to
    the server on ``port`` for the block, which starts once each has sent a second chunk."""
    if part not in ("headers", "body"):
        raise ValueError(f"part is headers or body, not {part!r}")
    stop = threading.Event()
    started = [threading.Event() for _ in range(clients)]
    threads = [
        threading.Thread(target=_trickle, args=(port, part, stop, event), daemon=True)
        for event in started
    ]
    for thread in threads:
        thread.start()
    try:
        for event in started:
            assert event.wait(10), "a slow client could not start trickling"
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
