"""Does the time of an answer tell whether an account exists? Failed logins for an existing
and an unknown username, and /password/forgot for an existing and an unknown address, against
gunicorn (production settings, one worker) on an embedded PostgreSQL, interleaved so that both
sides see the same machine. Prints medians, quartiles and how many of the existing side's
samples are above the unknown side's median (about half when timing tells nothing).

    python bench/enumeration.py --samples 200
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Database, Server, call, production_env
from bench.seed import seed_users

PASSWORD = "bench-password-1"
PAIRS = {
    "POST /login, wrong password": (
        "/login",
        {"username": "bench1", "password": "not-the-password"},
        {"username": "nobody1", "password": "not-the-password"},
    ),
    "POST /password/forgot": (
        "/password/forgot",
        {"email": "bench1@example.com"},
        {"email": "nobody1@example.com"},
    ),
}


def timed(base_url: str, path: str, body: dict) -> tuple[float, int]:
    started = time.perf_counter()
    status = call(base_url, "POST", path, body)[0]
    return (time.perf_counter() - started) * 1000, status


def compare(base_url: str, path: str, existing: dict, unknown: dict, samples: int) -> str:
    sides: dict[str, list[float]] = {"existing": [], "unknown": []}
    statuses = set()
    for _ in range(samples):
        for side, body in (("existing", existing), ("unknown", unknown)):
            took, status = timed(base_url, path, body)
            sides[side].append(took)
            statuses.add(status)
    unknown_median = statistics.median(sides["unknown"])
    above = sum(took > unknown_median for took in sides["existing"])
    quartiles = {side: statistics.quantiles(times, n=4) for side, times in sides.items()}
    return (
        f"existing p25/p50/p75 {'/'.join(f'{q:.2f}' for q in quartiles['existing'])} ms, "
        f"unknown {'/'.join(f'{q:.2f}' for q in quartiles['unknown'])} ms, "
        f"existing above the unknown median: {above} of {samples} "
        f"(statuses {sorted(statuses)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gatehouse-enumeration-") as scratch:
        database = Database(Path(scratch))
        env = production_env(
            database.url,
            WEB_CONCURRENCY="1",
            # Measure the answers themselves: no lockout, no slowing, no per-address limit.
            LOGIN_MAX_FAILURES="1000000",
            LOGIN_SLOWDOWN_AFTER="1000000",
            MAIL_BACKEND="locmem",
        )
        database.flask("init-db", env=env)
        seed_users(database.url, 10, PASSWORD, prefix="bench")
        server = Server(env, Path(scratch) / "web.log")
        try:
            server.wait_until_up()
            for name, (path, existing, unknown) in PAIRS.items():
                compare(server.base_url, path, existing, unknown, 10)  # warm up
                print(
                    f"{name}: {compare(server.base_url, path, existing, unknown, options.samples)}"
                )
        finally:
            server.stop()
            database.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
