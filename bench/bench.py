"""Benchmark Gatehouse against a bare Flask JSON app served the same way (gunicorn, the committed
gunicorn.conf.py, 2 sync workers), with wrk -t1 -c8 on loopback and PostgreSQL on its unix
socket. Prints one table: req/s, p50, p99, errors, ratio to the bare app, RSS per worker; then
the login limit and SQL statements per request.

    python bench/bench.py --seconds 10
"""

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Database, Server, call, production_env
from bench.seed import seed_users

PASSWORD = "bench-password-1"
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


def to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(wrk: str, url: str, seconds: int, token=None, script=None) -> dict:
    command = [wrk, "-t1", "-c8", f"-d{seconds}s", "--latency", url]
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    if script:
        command[1:1] = ["-s", script]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": to_ms(re.search(r"50%\s+(\S+)", output).group(1)),
        "p99": to_ms(re.search(r"99%\s+(\S+)", output).group(1)),
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def rss_per_worker_mb(server: Server) -> float:
    sizes = []
    for pid in server.worker_pids():
        status = Path(f"/proc/{pid}/status").read_text()
        sizes.append(int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024)
    return max(sizes)


def argon2_verify_seconds() -> float:
    from passlib.hash import argon2

    hasher = argon2.using(type="ID", memory_cost=19456, rounds=2, parallelism=1)
    stored = hasher.hash(PASSWORD)
    started = time.perf_counter()
    for _ in range(20):
        hasher.verify(PASSWORD, stored)
    return (time.perf_counter() - started) / 20


def statements_per_request(database_url: str, token: str) -> dict[str, int]:
    """SQL statements each benchmarked request sends, counted in-process on the same database."""
    import os

    from sqlalchemy import event

    os.environ.update(production_env(database_url))
    from app import create_app
    from app.extensions import db

    app = create_app("production")
    client = app.test_client()
    counts = {}
    with app.app_context():
        engine = db.engine
    for label, path in [
        ("GET /users/me", "/users/me"),
        ("GET /users?per_page=20", "/users?per_page=20"),
        ("GET /users?per_page=100", "/users?per_page=100"),
    ]:
        seen = []

        def record(*args, seen=seen) -> None:
            seen.append(1)

        event.listen(engine, "before_cursor_execute", record)
        client.get(path, headers={"Authorization": f"Bearer {token}"})
        event.remove(engine, "before_cursor_execute", record)
        counts[label] = len(seen)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    options = parser.parse_args()
    wrk = ensure_wrk()
    rows = []
    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-") as scratch:
        scratch = Path(scratch)
        database = Database(scratch)
        env = production_env(database.url, WEB_CONCURRENCY="2")
        database.flask("init-db", env=env)
        seed_users(database.url, 1000, PASSWORD, prefix="bench")
        bare = Server(env, scratch / "bare.log", app="bench.bare_app:app")
        gatehouse = Server(env, scratch / "web.log")
        try:
            bare.wait_until_up(path="/")
            gatehouse.wait_until_up()
            token = call(
                gatehouse.base_url, "POST", "/login", {"username": "bench1", "password": PASSWORD}
            )[2]["access_token"]
            login_script = scratch / "login.lua"
            login_script.write_text(LOGIN_SCRIPT)

            baseline = run_wrk(wrk, bare.base_url + "/", options.seconds)
            rows.append(("bare Flask JSON", baseline, rss_per_worker_mb(bare)))
            scenarios = [
                ("GET /users/me", "/users/me", token, None),
                ("GET /users?per_page=20 (1,000 users)", "/users?per_page=20", token, None),
            ]
            for label, path, bearer, script in scenarios:
                rows.append(
                    (
                        label,
                        run_wrk(wrk, gatehouse.base_url + path, options.seconds, bearer, script),
                        rss_per_worker_mb(gatehouse),
                    )
                )
            seed_users(database.url, 99_000, PASSWORD, prefix="more")
            rows.append(
                (
                    "GET /users?per_page=20 (100,000 users)",
                    run_wrk(wrk, gatehouse.base_url + "/users?per_page=20", options.seconds, token),
                    rss_per_worker_mb(gatehouse),
                )
            )
            rows.append(
                (
                    "POST /login",
                    run_wrk(
                        wrk, gatehouse.base_url + "/login", options.seconds, None, str(login_script)
                    ),
                    rss_per_worker_mb(gatehouse),
                )
            )
            statements = statements_per_request(database.url, token)
        finally:
            gatehouse.stop()
            bare.stop()
            database.cleanup()

    columns = ("req/s", "p50 ms", "p99 ms", "errors", "ratio", "RSS MB")
    print(f"{'scenario':42}" + "".join(f"{name:>9}" for name in columns))
    for label, result, rss in rows:
        ratio = result["rps"] / baseline["rps"]
        errors = result["errors"] + (1 if result["socket_errors"] else 0)
        figures = (
            f"{result['rps']:.0f}",
            f"{result['p50']:.2f}",
            f"{result['p99']:.2f}",
            str(errors),
            f"{ratio:.2f}",
            f"{rss:.1f}",
        )
        print(f"{label:42}" + "".join(f"{figure:>9}" for figure in figures))
    verify = argon2_verify_seconds()
    limit = 2 / verify
    login = rows[-1][1]["rps"]
    print(
        f"login limit: 2 workers / {verify * 1000:.1f} ms per argon2id verify = {limit:.0f}/s; "
        f"POST /login reached {login / limit:.2f} of it"
    )
    for label, count in statements.items():
        print(f"SQL statements per request, {label}: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
