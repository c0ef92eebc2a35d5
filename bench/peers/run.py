"""The peers benchmark: ``GET /users/me`` and the login of Gatehouse and of what a user would
pick instead (fastapi-users, Flask-Security, DRF + simplejwt), each served as its own docs
recommend, side by side in one run, against the one-round-trip app (bench/README.md, "Peers").

One embedded PostgreSQL, one database per app family; 2 workers per server; wrk -t1 -c8 on
loopback. Every app is checked first (bench/peers/checks.py). Then ``--rounds`` rounds: each
runs every row once for ``--seconds``, in an order that rotates by one each round; every ratio
is taken within a round (to Gatehouse's access-token row and to the one-round-trip app) and the
median over rounds is printed. A login row's limit is min(workers, cores) over one argon2id
verification, timed with argon2-cffi right before and right after its run. Any answer of 400 or
more, socket error (a timeout included) or run without an answer is flagged, and the run then
exits 1 (wrk counts a 3xx as a success: the one app that redirects a refused request, Flask-
Security, is asked for JSON, so that it refuses with a 401).

    python bench/bench.py --peers [--only drf,flask-security] [--rounds 5] [--seconds 10]
        [--out peers.json] [--peer-hash default]
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from bench.bench import ensure_wrk, run_wrk_report
from bench.harness import Database, Server, free_port, production_env
from bench.peers import checks, clients, environments
from bench.peers.catalog import (
    APPS,
    GATEHOUSE,
    GUNICORN_CONF,
    ONE_TRIP,
    OWN,
    ROOT,
    SERVERS,
    THREADS,
    WORKERS,
    Row,
    ServerSpec,
    select_rows,
)
from bench.seed import seed_users

CONNECTIONS = 8
# Enough for every pool and every persistent Django connection of all servers at once.
MAX_CONNECTIONS = 400
# Each row's first, unrecorded run (imports, pools, argon2's buffers, caches).
WARM_UP_SECONDS = 2
# How long wrk waits for a login's answer (its own default, 2 s, for the other rows).
LOGIN_TIMEOUT = "30s"
# One argon2id verification: the mean over as many as fit in this window (at most).
VERIFY_WINDOW = 5
PEER_SECRET = "peers-bench-secret-" + "s" * 45
GATEHOUSE_PACKAGES = ("Flask", "Flask-SQLAlchemy", "SQLAlchemy", "psycopg2-binary", "PyJWT")
GATEHOUSE_PACKAGES += ("cryptography", "flask-praetorian", "gunicorn", "argon2-cffi", "passlib")


def cores() -> int:
    return len(os.sched_getaffinity(0))


def argon2_verify_seconds(window: float) -> float:
    """One verification with Gatehouse's setting (argon2-cffi, 7 MiB x 5 x 1): the mean over
    as many as fit in ``window`` seconds."""
    from argon2 import PasswordHasher

    hasher = PasswordHasher(time_cost=5, memory_cost=7168, parallelism=1)
    stored = hasher.hash(clients.PASSWORD)
    count = 0
    started = time.perf_counter()
    while time.perf_counter() - started < window:
        hasher.verify(stored, clients.PASSWORD)
        count += 1
    return (time.perf_counter() - started) / count


def rotated(rows: list, round_index: int) -> list:
    """The order of a round: each round starts one row later than the one before."""
    shift = round_index % len(rows)
    return rows[shift:] + rows[:shift]


class PeerServer:
    """A peer's app served from its own environment; up once it answers at all (a 401
    included: its one route needs a token)."""

    def __init__(self, command: list[str], port: int, env: dict[str, str], log_path: Path) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        with log_path.open("w") as log:
            self.process = subprocess.Popen(
                command, cwd=APPS, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_until_up(self, path: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"exited: {self.log_path.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(self.base_url + path, timeout=2).close()
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"did not answer in time: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def peer_command(spec: ServerSpec, python: Path, port: int) -> list[str]:
    """uvicorn as its docs deploy it (``--workers``, uvloop and httptools, no access log), or
    gunicorn with Gatehouse's gunicorn.conf.py (threads, or uvicorn's gunicorn worker)."""
    if spec.server == "uvicorn":
        return [
            str(python),
            "-m",
            "uvicorn",
            spec.app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
            "--no-access-log",
        ]
    command = [str(python), "-m", "gunicorn", "--config", str(GUNICORN_CONF)]
    command += ["--bind", f"127.0.0.1:{port}"]
    if spec.server == "gunicorn-uvicorn":
        command += ["--worker-class", "uvicorn_worker.UvicornWorker"]
    elif spec.server != "gthread":
        raise ValueError(f"unknown server {spec.server!r}")
    return [*command, spec.app]


def signing_keys() -> dict[str, str]:
    """An Ed25519 key pair in PEM, for the peers' EdDSA rows."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {"PEER_PRIVATE_KEY": private.decode(), "PEER_PUBLIC_KEY": public.decode()}


class Bench:
    """The database, the environments and the servers of one run."""

    def __init__(self, rows: list[Row], options, scratch: Path) -> None:
        self.rows = rows
        self.options = options
        self.scratch = scratch
        self.specs = {key: SERVERS[key] for key in dict.fromkeys(row.server for row in rows)}
        self.peers = sorted({spec.peer for spec in self.specs.values()} - {OWN})
        self.pythons = {peer: environments.python_of(peer) for peer in self.peers}
        self.keys = signing_keys()
        self.servers: dict[str, Server | PeerServer] = {}
        self.database = None

    def database_url(self, name: str) -> str:
        return self.database.server.url(name)

    def prepare_database(self) -> None:
        import sqlalchemy as sa

        self.database = Database(self.scratch)
        engine = sa.create_engine(self.database.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sa.text(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}"))
            for name in sorted({spec.database for spec in self.specs.values()}):
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        self.database.stop()  # max_connections takes a restart
        self.database.start()

    def gatehouse_env(self) -> dict[str, str]:
        return production_env(
            self.database_url("gatehouse"),
            WEB_CONCURRENCY=str(WORKERS),
            GUNICORN_THREADS=str(THREADS),
        )

    def peer_env(self, spec: ServerSpec) -> dict[str, str]:
        prefixes = ("TEST_", "DATABASE_", "APP_", "FLASK_", "SIGNING_", "PYTHON")
        env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
        env.update(
            PEER_DB_HOST=self.database.server.socket_dir,
            PEER_DB_USER="postgres",
            PEER_DB_NAME=spec.database,
            PEER_SECRET=PEER_SECRET,
            PEER_PASSWORD=clients.PASSWORD,
            PEER_HASH=self.options.peer_hash,
            WEB_CONCURRENCY=str(WORKERS),
            GUNICORN_THREADS=str(THREADS),
            **self.keys,
            **spec.env,
        )
        return env

    def seed(self) -> None:
        """Gatehouse migrated, and the same four users in every app's database."""
        users = list(clients.USERS)
        if any(spec.peer == OWN for spec in self.specs.values()):
            env = self.gatehouse_env()
            self.database.flask("init-db", env=env)
            seed_users(self.database_url("gatehouse"), len(users), clients.PASSWORD, "bench")
        setups = {
            "fastapi-users": ["fastapi_users_peer.py", "setup", *map(clients.email, users)],
            "flask-security": ["flask_security_peer.py", "setup", *map(clients.email, users)],
            "drf": ["-m", "drf_peer.seed", *users],
        }
        for peer in self.peers:
            spec = next(spec for spec in self.specs.values() if spec.peer == peer)
            result = subprocess.run(
                [str(self.pythons[peer]), *setups[peer]],
                cwd=APPS,
                env=self.peer_env(spec),
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise RuntimeError(f"setting up {peer} failed:\n{result.stderr[-3000:]}")

    def start(self) -> None:
        for key, spec in self.specs.items():
            log = self.scratch / f"{key}.log"
            if spec.peer == OWN:
                self.servers[key] = Server(self.gatehouse_env(), log, app=spec.app)
            else:
                port = free_port()
                command = peer_command(spec, self.pythons[spec.peer], port)
                self.servers[key] = PeerServer(command, port, self.peer_env(spec), log)
        for key, spec in self.specs.items():
            server = self.servers[key]
            if isinstance(server, Server):
                server.wait_until_up(path=spec.ready_path)
            else:
                server.wait_until_up(spec.ready_path)

    def stop(self) -> None:
        for server in self.servers.values():
            if server.process.poll() is None:
                server.stop()
        if self.database:
            self.database.cleanup()

    def commands(self) -> dict[str, list[str]]:
        return {key: server.process.args for key, server in self.servers.items()}


def lua_login(row: Row, directory: Path) -> Path:
    """wrk's script for a login row: its method, headers and body (a long Lua string)."""
    _, headers, body = row.client.login(clients.LOGIN_USER)
    lines = ['wrk.method = "POST"']
    lines += [f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()]
    lines.append(f"wrk.body = [==[{body}]==]")
    script = directory / f"{row.key}.lua"
    script.write_text("\n".join(lines) + "\n")
    return script


def wrk_command(wrk: str, url: str, seconds: int, headers: dict, script=None) -> list[str]:
    """wrk's command line; a login's (a script) waits up to LOGIN_TIMEOUT for an answer, since
    a library's default hash can take longer than wrk's 2 s under load."""
    command = [wrk, "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", str(script), "--timeout", LOGIN_TIMEOUT]
    return [*command, url]


def run_row(bench: Bench, row: Row, wrk: str, seconds: int, warm_up: bool = False) -> dict:
    """One run of ``row``: a fresh sign-in for a token row (tokens expire within minutes), the
    verification timed around a login row (not in a warm-up run)."""
    base_url = bench.servers[row.server].base_url
    headers, script = {}, None
    if row.kind == "login":
        script = lua_login(row, bench.scratch)
    elif row.client:
        headers = row.client.headers(row.client.sign_in(base_url, clients.MEASURED_USER))
    timed = row.kind == "login" and bench.options.peer_hash == "configured" and not warm_up
    window = min(seconds, VERIFY_WINDOW)
    before = argon2_verify_seconds(window) if timed else None
    command = wrk_command(wrk, base_url + row.path, seconds, headers, script)
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    figures = run_wrk_report(output) | {"wrk_output": output}
    if timed:
        figures |= {"verify_before": before, "verify_after": argon2_verify_seconds(window)}
    return figures


def summarize(rows: list[Row], rounds: list[dict]) -> dict:
    """Per row: its rate each round, the ratios taken within each round, and their medians."""
    limit_workers = min(WORKERS, cores())
    summary = {}
    for row in rows:
        runs = [each["runs"][row.key] for each in rounds]
        rates = [run["rps"] for run in runs]
        entry = {
            "rps": rates,
            "median_rps": statistics.median(rates),
            "median_p50_ms": statistics.median(run["p50"] for run in runs),
            "median_p99_ms": statistics.median(run["p99"] for run in runs),
            "non_2xx": sum(run["errors"] for run in runs),
            "socket_errors": [run["socket_errors"] for run in runs if run["socket_errors"]],
            "runs_without_answers": sum(1 for rate in rates if not rate),
        }
        if row.kind == "get":
            one_trip = [each["runs"][ONE_TRIP]["rps"] for each in rounds]
            gatehouse = [each["runs"][GATEHOUSE]["rps"] for each in rounds]
            entry["x_one_trip"] = [rate / one for rate, one in zip(rates, one_trip, strict=True)]
            entry["gatehouse_over_row"] = [
                own / rate if rate else None for own, rate in zip(gatehouse, rates, strict=True)
            ]
            entry["median_x_one_trip"] = statistics.median(entry["x_one_trip"])
            valid = [ratio for ratio in entry["gatehouse_over_row"] if ratio is not None]
            entry["median_gatehouse_over_row"] = statistics.median(valid) if valid else None
        elif "verify_before" in runs[0]:
            verify = [statistics.mean((r["verify_before"], r["verify_after"])) for r in runs]
            limits = [limit_workers / seconds for seconds in verify]
            entry["verify_s"] = verify
            entry["limit"] = limits
            entry["share"] = [rate / limit for rate, limit in zip(rates, limits, strict=True)]
            entry["median_share"] = statistics.median(entry["share"])
            entry["median_verify_ms"] = statistics.median(verify) * 1000
        summary[row.key] = entry
    return summary


def figure(value, digits=0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def print_tables(rows: list[Row], summary: dict, options) -> None:
    gets = [row for row in rows if row.kind == "get"]
    logins = [row for row in rows if row.kind == "login"]
    print(
        f"\n{options.rounds} interleaved round(s) of {options.seconds} s, wrk -t1 "
        f"-c{CONNECTIONS}, {WORKERS} workers each, {cores()} cores; ratios taken within each "
        "round, the median over rounds shown.\n"
    )
    print(
        "| GET /users/me with a bearer token | median req/s | x one-round-trip app "
        "| Gatehouse access token / this row | p50 ms | non-2xx |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for row in gets:
        entry = summary[row.key]
        print(
            f"| {row.label} | {figure(entry['median_rps'])} "
            f"| {figure(entry['median_x_one_trip'], 2)} "
            f"| {figure(entry['median_gatehouse_over_row'], 2)} "
            f"| {figure(entry['median_p50_ms'], 2)} | {flag(entry)} |"
        )
    if not logins:
        return
    configured = options.peer_hash == "configured"
    setting = "argon2id 7 MiB x 5 x 1 for all" if configured else "each library's default hash"
    print()
    if configured:
        verify = statistics.median(summary[row.key]["median_verify_ms"] for row in logins)
        limit = f"{min(WORKERS, cores())} cores / one verification, {verify:.1f} ms"
        print(
            f"| POST login ({setting}) | median req/s | share of the argon2 limit ({limit}) "
            "| p50 ms | non-2xx |"
        )
        print("|---|---:|---:|---:|---:|")
    else:
        print(f"| POST login ({setting}) | median req/s | p50 ms | non-2xx |")
        print("|---|---:|---:|---:|")
    for row in logins:
        entry = summary[row.key]
        share = f" {figure(entry['median_share'], 2)} |" if configured else ""
        print(
            f"| {row.label} | {figure(entry['median_rps'])} |{share} "
            f"{figure(entry['median_p50_ms'], 2)} | {flag(entry)} |"
        )


def flagged(entry: dict) -> bool:
    """Answers of 400 or more, socket errors (timeouts included), or a run with no answer."""
    return bool(entry["non_2xx"] or entry["socket_errors"] or entry["runs_without_answers"])


def flag(entry: dict) -> str:
    socket = " + socket errors" if entry["socket_errors"] else ""
    empty = " + runs without answers" if entry["runs_without_answers"] else ""
    return f"{entry['non_2xx']}{socket}{empty}{' FLAGGED' if flagged(entry) else ''}"


def print_checks(rows: list[Row], found: dict, prefixes: dict) -> None:
    print("Checks (before measuring):")
    for row in rows:
        result = found[row.key]
        if row.client is None:
            detail = f"GET / {result['GET /']}"
        elif row.kind == "login":
            detail = f"login as wrk sends it: {result['login']}"
        else:
            users = ", ".join(f"{user} -> {who}" for user, who in result["users"].items())
            kind = "looked up per request" if result["looked_up"] else "not looked up"
            detail = (
                f"{users}; missing {result['missing']}, tampered {result['tampered']}; "
                f"signed out ({kind}): {result['sign_out']}, then {result['after_sign_out']}"
            )
        verdict = "ok" if not result["problems"] else "FAILED: " + "; ".join(result["problems"])
        print(f"  {row.key}: {detail} [{verdict}]")
    for peer, prefix in prefixes.items():
        print(f"  stored hash, {peer}: {prefix}")


def machine() -> dict:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cores": cores(),
        "cpu": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "commit": commit,
    }


def measure(bench: Bench, wrk: str) -> list[dict]:
    options, rows = bench.options, bench.rows
    for row in rows:
        run_row(bench, row, wrk, WARM_UP_SECONDS, warm_up=True)
    rounds = []
    for index in range(options.rounds):
        order = rotated(rows, index)
        runs = {}
        for row in order:
            runs[row.key] = run_row(bench, row, wrk, options.seconds)
            print(f"  round {index + 1}, {row.key}: {runs[row.key]['rps']:,.0f} req/s", flush=True)
        rounds.append({"order": [row.key for row in order], "runs": runs})
    return rounds


def parse(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--only",
        default="",
        help="Comma-separated peers (one-trip, bare, gatehouse, fastapi-users, "
        "flask-security, drf) or row keys; the one-round-trip app and Gatehouse's access-token "
        "row always run. Default: all.",
    )
    parser.add_argument("--out", type=Path, help="Write every raw figure to this JSON file.")
    parser.add_argument(
        "--peer-hash",
        choices=("configured", "default"),
        default="configured",
        help="configured (default): every peer hashes with Gatehouse's argon2id 7 MiB x 5 x 1; "
        "default: each library's own default (the share of the argon2 limit is then left out).",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    options = parse(argv)
    try:
        rows = select_rows([name for name in options.only.split(",") if name])
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    wrk = ensure_wrk()
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="gatehouse-peers-") as scratch:
        bench = Bench(rows, options, Path(scratch))
        try:
            bench.prepare_database()
            bench.seed()
            bench.start()
            found = {
                row.key: checks.check_row(row, bench.servers[row.server].base_url) for row in rows
            }
            prefixes = {
                peer: checks.stored_hash_prefix(bench.database_url, peer)
                for peer in dict.fromkeys(
                    row.peer for row in rows if row.peer not in ("one-trip", "bare")
                )
            }
            print_checks(rows, found, prefixes)
            problems = [p for result in found.values() for p in result["problems"]]
            problems += checks.hash_problems(prefixes, options.peer_hash == "configured")
            if problems:
                print("Not measured: a check failed.", file=sys.stderr)
                return 1
            rounds = measure(bench, wrk)
            commands = bench.commands()
        finally:
            bench.stop()
        environments_frozen = {
            peer: environments.frozen(python) for peer, python in bench.pythons.items()
        }
    summary = summarize(rows, rounds)
    print_tables(rows, summary, options)
    marked = [row.key for row in rows if flagged(summary[row.key])]
    if marked:
        print(
            "\nFLAGGED (answers of 400 or more, socket errors or runs without answers under "
            f"load): {', '.join(marked)}"
        )
    if options.out:
        record = {
            "started": started,
            "options": {
                "rounds": options.rounds,
                "seconds": options.seconds,
                "only": options.only,
                "peer_hash": options.peer_hash,
                "connections": CONNECTIONS,
                "workers": WORKERS,
                "threads": THREADS,
                "warm_up_seconds": WARM_UP_SECONDS,
                "verify_window_seconds": min(options.seconds, VERIFY_WINDOW),
            },
            "machine": machine(),
            "wrk": shutil.which("wrk"),
            "gatehouse_packages": {name: metadata.version(name) for name in GATEHOUSE_PACKAGES},
            "environments": environments_frozen,
            "servers": commands,
            "rows": {
                row.key: {
                    "peer": row.peer,
                    "label": row.label,
                    "kind": row.kind,
                    "server": row.server,
                    "path": row.path,
                }
                for row in rows
            },
            "checks": found,
            "stored_hash_prefixes": prefixes,
            "rounds": rounds,
            "summary": summary,
            "flagged": marked,
        }
        options.out.write_text(json.dumps(record, indent=2) + "\n")
        print(f"\nEvery figure: {options.out}")
    return 1 if marked else 0


if __name__ == "__main__":
    sys.exit(main())
