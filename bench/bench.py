"""Benchmark Gatehouse against the most its own stack can do for a request that needs the
database once: Flask and Flask-SQLAlchemy answering one ``SELECT 1`` (bench/round_trip_app.py),
served by the same server, with wrk -t1 -c8 on loopback and PostgreSQL on its unix socket.

``--server`` names the servers to compare (bench/harness.py, SERVERS): gunicorn's threaded
workers with the committed gunicorn.conf.py (production), gunicorn's sync workers, granian's
WSGI interface; 2 workers of 8 threads each. Under each it prints one table (req/s, p50, p99,
errors, ratio to the one-round-trip app, RSS per worker) for a bare Flask JSON app, GET
/users/me (access token, personal token), the list at 1,000 and 100,000 users, POST /refresh
and POST /login with its share of the argon2id limit; GET /users/me at 8 and 32 clients; and
/health and GET /users/me asked one at a time while 6 clients trickle their headers, then their
bodies. Then, under the first server, the lists at 1,000,000 users (first page, the last link,
page=N in the middle of the list, a next link from there, a selective q, a rare role, and GET
/users/me while six clients ask for pages in the middle of the list) and SQL statements per
request.

With ``--ablation``, it measures instead what each fast path buys (bench/README.md): the two
rows it speeds up, with every fast path on and with each one off (``bench/ablation.py``), each
server measured right after the others, round after round.

With ``--peers``, it hands over to bench/peers/run.py: Gatehouse side by side with
fastapi-users, Flask-Security and DRF + simplejwt, each served as its own docs recommend
(``--only``, ``--out``, ``--peer-hash``; 5 interleaved rounds unless ``--rounds`` says).

Shared virtual machines have noisy neighbours: each scenario runs ``--rounds`` times, each time
right after a run of the one-round-trip app, and the table keeps each one's best round. A
scenario's ratio compares its best round with the best of the reference runs made alongside it:
as many samples on each side, taken at the same time. A round whose reference run fell below
0.85 of the fastest reference run so far (the first one runs before any scenario) was taken
while the machine was slow and is repeated, up to ``--rounds`` extra times; the report names
such rounds. Likewise the login limit's argon2id verification is measured right before and
right after each login round, and the fastest round's mean is used.

    python bench/bench.py --seconds 10 --rounds 2 --server all
    python bench/bench.py --ablation
    python bench/bench.py --peers --out peers.json
"""

import argparse
import contextlib
import json
import logging
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ablation import ABLATED
from bench.harness import (
    SERVERS,
    Database,
    Server,
    call,
    production_env,
    read_answer,
    trickling,
)
from bench.seed import default_argon2, seed_organizations, seed_users

PASSWORD = "bench-password-1"
# The server the Procfile runs (docs/performance.md, "Choosing the server").
PRODUCTION_SERVER = "gthread"
# A reference run below this share of the fastest one so far marks a slow moment of the machine.
SLOW_MOMENT = 0.85
LOGIN_SCRIPT = "\n".join(
    [
        'wrk.method = "POST"',
        'wrk.headers["Content-Type"] = "application/json"',
        f'wrk.body = \'{{"username": "bench1", "password": "{PASSWORD}"}}\'',
    ]
)


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("Installing wrk (Debian package) ...", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk")


# Each of wrk's threads refreshes its own session, one request at a time, taking the refresh
# token each answer gives for its next request (a rotated token is good once).
REFRESH_SCRIPT = """
local count = 0
function setup(thread)
  count = count + 1
  thread:set("id", count)
end
function init(args)
  token = args[id]
end
function request()
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"},
    '{"refresh_token": "' .. token .. '"}')
end
function response(status, headers, body)
  local next_token = body:match('"refresh_token":"([^"]+)"')
  if next_token then token = next_token end
end
"""
REFRESH_SESSIONS = 8


def to_ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", value)
    if match is None:
        raise RuntimeError(f"wrk printed a time this script cannot read: {value!r}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}[unit]


def percentile(output: str, percent: int) -> str:
    """A line of wrk's latency distribution ("     50%    2.10ms"): anchored at the line's
    start, since the thread statistics above it end in percentages too ("87.50%")."""
    found = re.search(rf"^\s*{percent}%\s+(\S+)\s*$", output, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"wrk printed no {percent}% line:\n{output}")
    return found.group(1)


def run_wrk(
    wrk: str, url: str, seconds: int, token=None, script=None, connections=8, threads=1, args=()
) -> dict:
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if args:
        command += ["--", *args]
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    if script:
        command[1:1] = ["-s", script]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return run_wrk_report(output)


def run_wrk_report(output: str) -> dict:
    """The figures of a wrk report (``--latency``)."""
    if "Latency Distribution" not in output:
        raise RuntimeError(f"wrk printed no latency distribution:\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": to_ms(percentile(output, 50)),
        "p99": to_ms(percentile(output, 99)),
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def best(runs: list[dict]) -> dict:
    return max(runs, key=lambda run: run["rps"])


def measure_rounds(rounds: int, run_reference, run_scenario, earlier_reference: list[dict]):
    """Runs ``rounds`` rounds, each a reference run right before a run of the scenario. A round
    whose reference run fell below SLOW_MOMENT of the fastest reference run so far
    (``earlier_reference`` and this scenario's) was taken while the machine was slow, and does
    not count: another round is run, up to ``rounds`` extra ones. Returns the scenario's runs,
    the reference runs and how many rounds were added."""
    runs, alongside = [], []
    counted = extra = 0
    while counted < rounds:
        alongside.append(run_reference())
        fastest = max(run["rps"] for run in earlier_reference + alongside)
        if alongside[-1]["rps"] >= SLOW_MOMENT * fastest or extra == rounds:
            counted += 1
        else:
            extra += 1
        runs.append(run_scenario())
    return runs, alongside, extra


def vacuum_analyze(database_url: str) -> None:
    """After a bulk load, what autovacuum would do within the next minute, done before the
    measurement instead of during it: vacuum (visibility map, hint bits) and fresh planner
    statistics."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text("VACUUM (ANALYZE) users"))
    engine.dispose()


def memory_per_worker_mb(server: Server) -> dict[str, float]:
    """The largest worker's resident memory (RSS) and its proportional share (PSS, from
    /proc/<pid>/smaps_rollup: pages shared with the preloaded master and the other workers
    count in part), in MB."""
    sizes = {"rss": [], "pss": []}
    for pid in server.worker_pids():
        status = Path(f"/proc/{pid}/status").read_text()
        sizes["rss"].append(int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024)
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        sizes["pss"].append(int(re.search(r"^Pss:\s+(\d+) kB", rollup, re.M).group(1)) / 1024)
    return {name: max(values) for name, values in sizes.items()}


def argon2_verify_seconds(window: float) -> float:
    """One verification with the default parameters: the mean over as many as fit in
    ``window`` seconds. (Over one second, the median of 31 ranged from 26 to 40 ms on the
    reference machine within a minute; over a window as long as a load round it holds steady,
    as wrk's rate over that round does.)"""
    hasher = default_argon2()
    stored = hasher.hash(PASSWORD)
    count = 0
    started = time.perf_counter()
    deadline = started + window
    while time.perf_counter() < deadline:
        hasher.verify(PASSWORD, stored)
        count += 1
    return (time.perf_counter() - started) / count


def fastest_round_verification(verifications: list[float]) -> float:
    """The login limit's verification time: each login round has one measured right before it
    and one right after (in that order); a round's time is their mean, and the fastest round
    counts (the highest limit)."""
    if not verifications or len(verifications) % 2:
        raise ValueError("expected one verification before and one after each round")
    pairs = zip(verifications[::2], verifications[1::2], strict=True)
    return min(statistics.mean(pair) for pair in pairs)


def statements_per_request(database_url: str, token: str) -> dict[str, int]:
    """SQL statements each benchmarked request sends, counted in-process on the same database."""
    import os

    os.environ.update(production_env(database_url))
    from app import create_app
    from app.database import recorded_statements
    from app.extensions import db

    app = create_app("production")
    logging.getLogger("gatehouse.access").disabled = True  # keep the table readable
    client = app.test_client()
    counts = {}
    with app.app_context():
        engine = db.engine
    # (a warm worker: its first request also reads what roles grant, once per process)
    client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    for label, path in [
        ("GET /users/me", "/users/me"),
        ("GET /users?per_page=20", "/users?per_page=20"),
        ("GET /users?per_page=100", "/users?per_page=100"),
    ]:
        with recorded_statements(engine) as statements:
            response = client.get(path, headers={"Authorization": f"Bearer {token}"})
        if response.status_code != 200:
            raise RuntimeError(f"{label} answered {response.status_code} while counting")
        counts[label] = len(statements)
    return counts


# The middle of a 1,000,000-user list of 20 a page: the farthest page=N from either end.
MIDDLE_PAGE = 25_000
FLOOD_CONNECTIONS = 6
TIME_ROWS = ("req/s", "p50 ms", "p99 ms", "errors")


def row_figures(result: dict, columns) -> str:
    errors = result["errors"] + (1 if result["socket_errors"] else 0)
    figures = {
        "req/s": f"{result['rps']:.0f}",
        "p50 ms": f"{result['p50']:.2f}",
        "p99 ms": f"{result['p99']:.2f}",
        "errors": str(errors),
        "ratio": f"{result.get('ratio', 0):.2f}",
        "RSS MB": f"{result.get('rss', 0):.1f}",
        "PSS MB": f"{result.get('pss', 0):.1f}",
        "vs first": f"{result.get('vs_first', 0):.2f}",
    }
    return "".join(f"{figures[name]:>9}" for name in columns)


def print_table(title: str, rows: list[tuple[str, dict]], columns) -> None:
    print(f"{title:46}" + "".join(f"{name:>9}" for name in columns))
    for label, result in rows:
        print(f"{label:46}" + row_figures(result, columns))


def flood(wrk: str, base_url: str, token: str, path: str, seconds: int) -> dict:
    """GET /users/me from one client while FLOOD_CONNECTIONS others ask for ``path``."""
    flooding = subprocess.Popen(
        [
            wrk,
            "-t1",
            f"-c{FLOOD_CONNECTIONS}",
            f"-d{seconds + 2}s",
            "--latency",
            "-H",
            f"Authorization: Bearer {token}",
            base_url + path,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1)
        command = [
            wrk,
            "-t1",
            "-c1",
            f"-d{seconds}s",
            "--latency",
            "-H",
            f"Authorization: Bearer {token}",
            base_url + "/users/me",
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        flooded = flooding.communicate()[0]
    return run_wrk_report(output) | {"flood": run_wrk_report(flooded)}


def million_user_rows(wrk, base_url: str, options) -> list[tuple[str, dict]]:
    """The lists at 1,000,000 users, one client at a time (the time a request takes at that
    depth, no queueing): each scenario's best of ``--rounds`` runs, and its p50 against the
    first page's. Then GET /users/me under a flood."""
    token = sign_in(base_url, "bench1")["access_token"]

    def best_of(path: str) -> dict:
        runs = [
            run_wrk(wrk, base_url + path, options.seconds, token, connections=1)
            for _ in range(options.rounds)
        ]
        return best(runs)

    def link(path: str, name: str) -> str:
        return call(base_url, "GET", path, token=token)[2]["_links"][name]

    middle = f"/users?per_page=20&page={MIDDLE_PAGE}"
    scenarios = [
        ("first page", "/users?per_page=20"),
        ("last link", link("/users?per_page=20", "last")),
        (f"page={MIDDLE_PAGE} (the middle)", middle),
        (f"next link from page {MIDDLE_PAGE}", link(middle, "next")),
        ("q=bench12345 (11 users)", "/users?per_page=20&q=bench12345"),
        ("role=admin (10 users)", "/users?per_page=20&role=admin"),
        ("role=admin, page 2 by its link", link("/users?per_page=5&role=admin", "next")),
    ]
    rows = [(label, best_of(path)) for label, path in scenarios]
    first_p50 = rows[0][1]["p50"]
    for _, result in rows:
        result["vs_first"] = result["p50"] / first_p50
    rows.append(("GET /users/me", best_of("/users/me") | {"vs_first": 0}))
    for label, path in ((f"page={MIDDLE_PAGE}", middle), ("its next link", link(middle, "next"))):
        flooded = flood(wrk, base_url, token, path, options.seconds)
        rows.append((f"GET /users/me, 6 others asking {label}", flooded | {"vs_first": 0}))
    return rows


def post_json_script(path: Path, body) -> str:
    """A wrk script that POSTs ``body`` as JSON; its path."""
    path.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [[{json.dumps(body)}]]\n"
    )
    return str(path)


def organization_rows(wrk, base_url: str, options, scratch: Path, largest: int) -> list:
    """Organizations at scale (``seed_organizations``: 100,000 of them, about 1,500,000
    memberships, the largest with 100,000 members, bench1 in 1,001), one client at a time, and
    ``POST /authz/check`` on 1,000,000 users: each scenario's best of ``--rounds`` runs."""
    token = sign_in(base_url, "bench1")["access_token"]

    def best_of(path: str, body=None) -> dict:
        script = None if body is None else post_json_script(scratch / "post.lua", body)
        runs = [
            run_wrk(wrk, base_url + path, options.seconds, token, script, connections=1)
            for _ in range(options.rounds)
        ]
        return best(runs)

    def link(path: str, name: str) -> str:
        status, _, body = call(base_url, "GET", path, token=token)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body}")
        return body["_links"][name]

    members = f"/orgs/{largest}/members?per_page=20"
    middle_page = call(base_url, "GET", members, token=token)[2]["_meta"]["total_pages"] // 2
    middle = f"{members}&page={middle_page}"
    listed = call(base_url, "GET", "/users?per_page=100&sort=-created_at", token=token)[2]
    user_ids = [row["id"] for row in listed["items"]]
    checks = [
        {"permission": "bucketlists:write", "organization_id": largest, "user_id": user_id}
        for user_id in user_ids[:50]
    ] + [{"permission": "users:read", "user_id": user_id} for user_id in user_ids[:50]]
    scenarios = [
        ("GET /orgs (bench1 in 1,001 organizations)", "/orgs?per_page=20", None),
        ("GET /orgs, its next link", link("/orgs?per_page=20", "next"), None),
        ("members of the largest (100,000), first page", members, None),
        (f"members, page={middle_page} (the middle)", middle, None),
        (f"members, the next link from page {middle_page}", link(middle, "next"), None),
        ("members, q=many12345", f"{members}&q=many12345", None),
        ("GET /orgs/<id>/bucketlists (1,000)", f"/orgs/{largest}/bucketlists?per_page=20", None),
        (
            "POST /authz/check, 1 organization permission",
            "/authz/check",
            {"checks": [{"permission": "members:invite", "organization_id": largest}]},
        ),
        ("POST /authz/check, 100 checks (half in it)", "/authz/check", {"checks": checks}),
    ]
    return [(label, best_of(path, body)) for label, path, body in scenarios]


def seed_million(database_url: str) -> None:
    """Up to 1,000,000 users, 10 of them admins (user ids ending in 00000)."""
    import sqlalchemy as sa

    seed_users(database_url, 900_000, PASSWORD, prefix="many")
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE users SET roles = 'admin,user' WHERE user_id % 100000 = 0")
        )
    engine.dispose()
    vacuum_analyze(database_url)


def bench_database(scratch: Path) -> tuple[Database, dict[str, str]]:
    """An embedded PostgreSQL, migrated, with 1,000 users, and the production environment."""
    database = Database(scratch)
    env = production_env(database.url, WEB_CONCURRENCY="2")
    database.flask("init-db", env=env)
    seed_users(database.url, 1000, PASSWORD, prefix="bench")
    return database, env


def sign_in(base_url: str, username: str = "bench1") -> dict:
    """The tokens of a new session of a seeded user."""
    return call(base_url, "POST", "/login", {"username": username, "password": PASSWORD})[2]


def personal_token(base_url: str, access_token: str) -> str:
    """A new personal token (scope profile) of the signed-in user of ``access_token``."""
    status, _, body = call(
        base_url,
        "POST",
        "/users/me/tokens",
        {"name": "bench", "scopes": ["profile"]},
        token=access_token,
    )
    if status != 201:
        raise RuntimeError(f"could not create a personal token: {status} {body}")
    return body["token"]


# The yardstick of every ratio: the same stack's most for a request that needs the database once,
# served by the same server (bench/round_trip_app.py); and a bare JSON app for scale.
REFERENCE_APP = "bench.round_trip_app:app"
BARE_APP = "bench.bare_app:app"
# Slow clients: this many trickle their headers, then their bodies, while /health and
# GET /users/me are asked SLOW_SAMPLES times each, one at a time.
SLOW_CLIENTS = 6
SLOW_SAMPLES = 20


# Seconds after which the benchmark signs in again for a new access token.
TOKEN_RENEWAL = 300
# Heroku's router keeps an idle connection to a dyno up to 90 s: the server must hold it longer.
KEEP_ALIVE_IDLE = 95
# Heroku sends SIGTERM, then SIGKILL 30 s later.
SHUTDOWN_LIMIT = 30


class IdleConnection(threading.Thread):
    """A keep-alive connection that asks for /health once, then waits KEEP_ALIVE_IDLE seconds
    and asks again: ``result`` says whether the server held it, or when it closed it."""

    REQUEST = b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.result = "not measured"

    def run(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as connection:
            reader = connection.makefile("rb")
            connection.sendall(self.REQUEST)
            read_answer(reader)
            started = time.monotonic()
            # Readable before the time is up: the server closed it (nothing else is sent).
            readable, _, _ = select.select([connection], [], [], KEEP_ALIVE_IDLE)
            if readable and connection.recv(1, socket.MSG_PEEK) == b"":
                self.result = f"closed after {time.monotonic() - started:.0f} s idle"
                return
            connection.settimeout(10)
            connection.sendall(self.REQUEST)
            status, _ = read_answer(reader)
            self.result = f"held {KEEP_ALIVE_IDLE} s idle, then answered {status}"


def shutdown_seconds(server: Server) -> str:
    """How long the server takes to stop after SIGTERM while a client holds an idle keep-alive
    connection (a request answered, the connection left open), as the router's would be."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        reader = connection.makefile("rb")
        connection.sendall(IdleConnection.REQUEST)
        read_answer(reader)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=SHUTDOWN_LIMIT + 5)
        except subprocess.TimeoutExpired:
            server.process.kill()
            return f"still running after {SHUTDOWN_LIMIT + 5} s (killed)"
    return f"{time.monotonic() - started:.1f} s"


class Stack:
    """Gatehouse, the one-round-trip app and the bare app, each served by the server ``kind``."""

    def __init__(self, kind: str, env: dict[str, str], scratch: Path, index: int) -> None:
        self.kind = kind
        self.servers = {
            "gatehouse": Server(env, scratch / f"{kind}-web.log", kind=kind),
            "reference": Server(env, scratch / f"{kind}-reference.log", REFERENCE_APP, kind=kind),
            "bare": Server(env, scratch / f"{kind}-bare.log", BARE_APP, kind=kind),
        }
        self.gatehouse = self.servers["gatehouse"]
        self.username = f"bench{3 + index}"
        self.rows: list[tuple[str, dict]] = []
        self.latency: list[tuple[str, dict]] = []
        self.slow: list[tuple[str, dict]] = []
        self.reference_runs: list[dict] = []
        self.verifications: list[float] = []
        self.repeated: list[str] = []
        self.idle = None
        self.shutdown = "not measured"
        self._token = ""
        self._signed_in_at = -float("inf")

    def wait_until_up(self) -> None:
        self.gatehouse.wait_until_up()
        self.servers["reference"].wait_until_up(path="/")
        self.servers["bare"].wait_until_up(path="/")
        # (Made now: creating one needs a session freshly signed in.)
        self.personal_token = personal_token(self.gatehouse.base_url, self.token)
        self.idle = IdleConnection(self.gatehouse.port)
        self.idle.start()

    @property
    def token(self) -> str:
        """An access token of the stack's user, signed in anew every few minutes (one lives
        15 minutes, and a run is longer)."""
        if time.monotonic() - self._signed_in_at > TOKEN_RENEWAL:
            self._token = sign_in(self.gatehouse.base_url, self.username)["access_token"]
            self._signed_in_at = time.monotonic()
        return self._token

    def stop(self) -> None:
        """Stop every server; Gatehouse's, timed, with a keep-alive connection held open."""
        if self.idle:
            self.idle.join(timeout=KEEP_ALIVE_IDLE + 15)
        if self.gatehouse.process.poll() is None:
            self.shutdown = shutdown_seconds(self.gatehouse)
        for server in self.servers.values():
            if server.process.poll() is None:
                server.stop()


def measure(
    stack: Stack,
    wrk,
    options,
    label,
    path,
    bearer=None,
    script=None,
    around_each=None,
    sessions=None,
    app="gatehouse",
) -> None:
    """A row of ``stack``'s table: the best of its rounds, with its ratio to the best of the
    one-round-trip runs made alongside them, and the RSS per worker after it. ``around_each``
    runs right before and right after each round; ``sessions`` gives each round's refresh
    tokens, one per wrk thread and connection."""
    server = stack.servers[app]
    reference = stack.servers["reference"]

    def scenario():
        if around_each:
            around_each()
        extra = {}
        if sessions:
            tokens = sessions()
            extra = {"threads": len(tokens), "connections": len(tokens), "args": tokens}
        run = run_wrk(wrk, server.base_url + path, options.seconds, bearer, script, **extra)
        if around_each:
            around_each()
        return run

    runs, alongside, extra = measure_rounds(
        options.rounds,
        lambda: run_wrk(wrk, reference.base_url + "/", options.seconds),
        scenario,
        stack.reference_runs,
    )
    stack.repeated.extend([label] * extra)
    stack.reference_runs.extend(alongside)
    ratio = best(runs)["rps"] / best(alongside)["rps"]
    stack.rows.append((label, best(runs) | {"ratio": ratio} | memory_per_worker_mb(server)))


def timed_get(base_url: str, path: str, token=None) -> tuple[float, str]:
    """One GET on a new connection: its time in ms and its status (or what went wrong)."""
    started = time.perf_counter()
    try:
        status = str(call(base_url, "GET", path, token=token, timeout=5)[0])
    except OSError as error:
        status = type(error).__name__
    return (time.perf_counter() - started) * 1000, status


def slow_client_rows(stack: Stack) -> None:
    """/health and GET /users/me, asked one at a time while SLOW_CLIENTS clients trickle their
    headers, then their bodies: the median and the slowest answer, and what they answered."""
    base_url = stack.gatehouse.base_url
    for part in ("headers", "body"):
        with trickling(stack.gatehouse.port, part, clients=SLOW_CLIENTS):
            samples = {"/health": [], "/users/me": []}
            for _ in range(SLOW_SAMPLES):
                for path, taken in samples.items():
                    taken.append(timed_get(base_url, path, stack.token))
                time.sleep(0.05)
        for path, taken in samples.items():
            times = sorted(ms for ms, _ in taken)
            statuses = sorted({status for _, status in taken})
            stack.slow.append(
                (
                    f"{path}, {SLOW_CLIENTS} clients trickling {part}",
                    {"p50": statistics.median(times), "max": times[-1], "statuses": statuses},
                )
            )


def latency_rows(stack: Stack, wrk, options) -> None:
    """GET /users/me at 8 and at 32 clients: the round with the best rate of ``--rounds``."""
    for connections in (8, 32):
        runs = [
            run_wrk(
                wrk,
                stack.gatehouse.base_url + "/users/me",
                options.seconds,
                stack.token,
                connections=connections,
            )
            for _ in range(options.rounds)
        ]
        stack.latency.append((f"GET /users/me, {connections} clients", best(runs)))


def print_stack(stack: Stack, workers: int) -> None:
    print(f"== {stack.kind}: ratios to the one-round-trip app served by {stack.kind}")
    print_table("scenario", stack.rows, (*TIME_ROWS, "ratio", "RSS MB", "PSS MB"))
    if stack.verifications:
        verify = fastest_round_verification(stack.verifications)
        limit = workers / verify
        login = dict(stack.rows)["POST /login"]["rps"]
        print(
            f"login limit: {workers} workers / {verify * 1000:.1f} ms per argon2id verify = "
            f"{limit:.0f}/s; POST /login reached {login / limit:.2f} of it"
        )
    low = min(run["rps"] for run in stack.reference_runs)
    high = max(run["rps"] for run in stack.reference_runs)
    print(
        f"one-round-trip app over {len(stack.reference_runs)} runs: {low:.0f} to {high:.0f} req/s"
    )
    if stack.repeated:
        print(f"rounds repeated after a slow reference run: {', '.join(stack.repeated)}")
    print_table("latency", stack.latency, TIME_ROWS)
    eight, thirty_two = (result for _, result in stack.latency)
    print(f"p99 at 32 clients / p50 at 8 clients: {thirty_two['p99'] / eight['p50']:.1f}")
    if stack.idle:
        print(f"idle keep-alive connection: {stack.idle.result}")
    print(f"SIGTERM to exit, a keep-alive connection open: {stack.shutdown}")
    print(f"{'slow clients':46}{'p50 ms':>9}{'max ms':>9}  answers")
    for label, result in stack.slow:
        print(
            f"{label:46}{result['p50']:>9.1f}{result['max']:>9.1f}  {', '.join(result['statuses'])}"
        )
    print()


def ablation(options, wrk) -> int:
    """Every fast path on, then each one off: GET /users/me, the list at 1,000 users and
    POST /login (with each worker's memory after it), under the first server named by
    ``--server``."""
    from app.config import FAST_PATHS

    kind = options.servers[0]
    with tempfile.TemporaryDirectory(prefix="gatehouse-ablation-") as scratch:
        scratch = Path(scratch)
        database, env = bench_database(scratch)
        variants = {"all on": None} | {f"{name} off": name for name in FAST_PATHS}
        servers = {
            label: Server(
                env | ({ABLATED: off} if off else {}),
                scratch / f"{label.replace(' ', '-')}.log",
                app="bench.ablation:create_app()",
                kind=kind,
            )
            for label, off in variants.items()
        }
        reference = Server(env, scratch / "reference.log", app=REFERENCE_APP, kind=kind)
        try:
            reference.wait_until_up(path="/")
            for server in servers.values():
                server.wait_until_up()
            token = sign_in(servers["all on"].base_url, "bench1")["access_token"]
            login_script = scratch / "login.lua"
            login_script.write_text(LOGIN_SCRIPT)
            rows = []
            for label_of_path, path, script in (
                ("GET /users/me", "/users/me", None),
                ("GET /users?per_page=20", "/users?per_page=20", None),
                ("POST /login", "/login", str(login_script)),
            ):
                bearer = None if script else token
                runs = {label: [] for label in ["reference", *servers]}
                for _ in range(options.rounds):
                    runs["reference"].append(
                        run_wrk(wrk, reference.base_url + "/", options.seconds)
                    )
                    for label, server in servers.items():
                        runs[label].append(
                            run_wrk(wrk, server.base_url + path, options.seconds, bearer, script)
                        )
                reference_best = best(runs.pop("reference"))["rps"]
                base = best(runs["all on"])["rps"]
                for label, measured in runs.items():
                    result = best(measured)
                    rows.append(
                        (
                            f"{label_of_path}, {label}",
                            result
                            | {
                                "ratio": result["rps"] / reference_best,
                                "change": result["rps"] / base - 1,
                            }
                            | memory_per_worker_mb(servers[label]),
                        )
                    )
        finally:
            for server in [*servers.values(), reference]:
                server.stop()
            database.cleanup()
    print(f"served by {kind}; ratio to the one-round-trip app")
    print("PSS MB: the largest worker's proportional share of memory after the row's rounds")
    columns = (*TIME_ROWS, "ratio", "PSS MB")
    print(f"{'scenario':46}" + "".join(f"{name:>9}" for name in (*columns, "change")))
    for label, result in rows:
        change = f"{result['change'] * 100:+.0f}%"
        print(f"{label:46}" + row_figures(result, columns) + f"{change:>9}")
    return 0


def server_kinds(value: str) -> list[str]:
    kinds = list(SERVERS) if value == "all" else value.split(",")
    unknown = [kind for kind in kinds if kind not in SERVERS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"servers are {', '.join(SERVERS)} or all")
    return kinds


def peer_arguments(options) -> list[str]:
    """bench/peers/run.py's arguments for ``--peers`` (5 rounds unless told)."""
    arguments = ["--rounds", str(options.rounds or 5), "--seconds", str(options.seconds)]
    arguments += ["--only", options.only, "--peer-hash", options.peer_hash]
    return arguments + (["--out", options.out] if options.out else [])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--rounds", type=int, help="Default: 2; with --peers, 5 (medians over rounds)."
    )
    parser.add_argument(
        "--server",
        dest="servers",
        type=server_kinds,
        default=[PRODUCTION_SERVER],
        help=f"Comma-separated servers ({', '.join(SERVERS)}) or all; the 1,000,000-user rows "
        f"run under the first. Default: {PRODUCTION_SERVER}, the production server.",
    )
    parser.add_argument("--ablation", action="store_true", help="What each fast path buys.")
    parser.add_argument(
        "--without-million", action="store_true", help="Skip the 1,000,000-user rows."
    )
    parser.add_argument(
        "--at-scale-only",
        action="store_true",
        help="Only the 1,000,000-user and organization rows (the seeding takes most of the run).",
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="Measure against the peers instead (bench/peers/run.py, bench/README.md).",
    )
    parser.add_argument("--only", default="", help="With --peers: the peers or rows to run.")
    parser.add_argument("--out", help="With --peers: write every raw figure to this JSON file.")
    parser.add_argument(
        "--peer-hash",
        choices=("configured", "default"),
        default="configured",
        help="With --peers: Gatehouse's argon2id for every peer, or each library's default.",
    )
    options = parser.parse_args()
    if options.peers:
        from bench.peers.run import main as peers

        return peers(peer_arguments(options))
    options.rounds = options.rounds or 2
    if options.at_scale_only and options.without_million:
        parser.error("--at-scale-only measures only the rows --without-million skips")
    wrk = ensure_wrk()
    if options.ablation:
        return ablation(options, wrk)
    million, organizations = [], []
    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-") as scratch:
        scratch = Path(scratch)
        database, env = bench_database(scratch)
        workers = int(env["WEB_CONCURRENCY"])
        stacks = [Stack(kind, env, scratch, index) for index, kind in enumerate(options.servers)]
        # The stacks whose throughput is measured (--at-scale-only: none, only the rows at scale).
        measured = [] if options.at_scale_only else stacks
        login_script = scratch / "login.lua"
        login_script.write_text(LOGIN_SCRIPT)
        refresh_script = scratch / "refresh.lua"
        refresh_script.write_text(REFRESH_SCRIPT)
        try:
            for stack in stacks:
                stack.wait_until_up()

            def fresh_sessions(stack: Stack) -> list[str]:
                return [
                    sign_in(stack.gatehouse.base_url, f"bench{100 + number}")["refresh_token"]
                    for number in range(1, REFRESH_SESSIONS + 1)
                ]

            for stack in measured:
                # The reference for slow moments: one run of the yardstick before any scenario.
                reference = stack.servers["reference"].base_url + "/"
                stack.reference_runs.append(run_wrk(wrk, reference, options.seconds))
                measure(stack, wrk, options, "bare Flask JSON", "/", app="bare")
                measure(stack, wrk, options, "GET /users/me", "/users/me", stack.token)
                measure(
                    stack,
                    wrk,
                    options,
                    "GET /users/me (personal token)",
                    "/users/me",
                    stack.personal_token,
                )
                measure(
                    stack,
                    wrk,
                    options,
                    "GET /users?per_page=20 (1,000 users)",
                    "/users?per_page=20",
                    stack.token,
                )
                measure(
                    stack,
                    wrk,
                    options,
                    f"POST /refresh ({REFRESH_SESSIONS} sessions)",
                    "/refresh",
                    script=str(refresh_script),
                    sessions=lambda stack=stack: fresh_sessions(stack),
                )
                latency_rows(stack, wrk, options)
                slow_client_rows(stack)
                measure(
                    stack,
                    wrk,
                    options,
                    "POST /login",
                    "/login",
                    script=str(login_script),
                    around_each=lambda stack=stack: stack.verifications.append(
                        argon2_verify_seconds(options.seconds)
                    ),
                )
            seed_users(database.url, 99_000, PASSWORD, prefix="more")
            vacuum_analyze(database.url)
            for stack in measured:
                measure(
                    stack,
                    wrk,
                    options,
                    "GET /users?per_page=20 (100,000 users)",
                    "/users?per_page=20",
                    stack.token,
                )
            # (A token of its own: the login rows' logins of bench1 ended its earlier sessions.)
            counting_token = sign_in(stacks[0].gatehouse.base_url, "bench2")["access_token"]
            statements = statements_per_request(database.url, counting_token)
            if not options.without_million:
                seed_million(database.url)
                million = million_user_rows(wrk, stacks[0].gatehouse.base_url, options)
                largest = seed_organizations(database.url)
                vacuum_analyze(database.url)
                organizations = organization_rows(
                    wrk, stacks[0].gatehouse.base_url, options, scratch, largest
                )
        except BaseException:
            for stack in measured:  # what was measured before the failure
                with contextlib.suppress(Exception):
                    print_stack(stack, workers)
            raise
        finally:
            for stack in stacks:
                stack.stop()
            database.cleanup()

    for stack in measured:
        print_stack(stack, workers)
    for label, count in statements.items():
        print(f"SQL statements per request, {label}: {count}")
    if not million:
        return 0
    print()
    print_table(
        f"1,000,000 users, 1 client (wrk -c1), {stacks[0].kind}", million, (*TIME_ROWS, "vs first")
    )
    for label, result in million:
        if "flood" in result:
            flood_run = result["flood"]
            print(
                f"  while {label.split('asking ')[1]}: {flood_run['rps']:.0f} req/s, "
                f"p50 {flood_run['p50']:.1f} ms, errors {flood_run['errors']}"
            )
    print()
    print_table(
        f"100,000 organizations, 1,500,000 memberships, 1 client (wrk -c1), {stacks[0].kind}",
        organizations,
        TIME_ROWS,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
