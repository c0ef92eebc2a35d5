"""Does the time of an answer tell whether an account exists? Failed logins for an existing
and an unknown username; /password/forgot, a registration and an e-mail change (confirmation
on) for an existing and an unknown address; against gunicorn (production settings, one worker,
EMAIL_CONFIRMATION=true) on an embedded PostgreSQL, interleaved so that both sides see the same
machine. Prints medians, quartiles and how many of the existing side's
samples are above the unknown side's median (about half when timing tells nothing).

    python bench/enumeration.py --samples 200
"""

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Database, Server, call, production_env
from bench.seed import seed_users

PASSWORD = "bench-password-1"
NEW_PASSWORD = "lantern-orbit-quarry-7"
NUMBERS = itertools.count()


def fixed(body: dict):
    return lambda: body


def newcomer(email: str | None):
    """A registration of a new username, with ``email`` (or a new address)."""

    def body() -> dict:
        number = next(NUMBERS)
        address = email or f"newcomer{number}@example.com"
        return {"username": f"newcomer{number}", "email": address, "password": NEW_PASSWORD}

    return body


def moving_to(email: str | None):
    """An e-mail change to ``email`` (or a new address)."""
    return lambda: {"email": email or f"moved{next(NUMBERS)}@example.com"}


PAIRS = {
    "POST /login, wrong password": (
        "POST",
        "/login",
        fixed({"username": "bench1", "password": "not-the-password"}),
        fixed({"username": "nobody1", "password": "not-the-password"}),
    ),
    "POST /password/forgot": (
        "POST",
        "/password/forgot",
        fixed({"email": "bench1@example.com"}),
        fixed({"email": "nobody1@example.com"}),
    ),
    "POST /register, confirmation on": (
        "POST",
        "/register",
        newcomer("bench1@example.com"),
        newcomer(None),
    ),
    "PATCH /users/me, confirmation on": (
        "PATCH",
        "/users/me",
        moving_to("bench1@example.com"),
        moving_to(None),
    ),
}


def timed(base_url: str, method: str, path: str, body: dict, token=None) -> tuple[float, int]:
    started = time.perf_counter()
    status = call(base_url, method, path, body, token=token)[0]
    return (time.perf_counter() - started) * 1000, status


def compare(base_url: str, pair: tuple, samples: int, token: str) -> str:
    method, path, existing, unknown = pair
    sides: dict[str, list[float]] = {"existing": [], "unknown": []}
    statuses = set()
    for _ in range(samples):
        for side, body in (("existing", existing), ("unknown", unknown)):
            took, status = timed(base_url, method, path, body(), token)
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
            EMAIL_CONFIRMATION="true",
            # The e-mail change is a fresh route: the session stays fresh for the whole run.
            REAUTH_WINDOW="3600",
        )
        database.flask("init-db", env=env)
        seed_users(database.url, 10, PASSWORD, prefix="bench")
        server = Server(env, Path(scratch) / "web.log")
        try:
            server.wait_until_up()
            login = {"username": "bench2", "password": PASSWORD}
            token = call(server.base_url, "POST", "/login", login)[2]["access_token"]
            for name, pair in PAIRS.items():
                compare(server.base_url, pair, 10, token)  # warm up
                print(f"{name}: {compare(server.base_url, pair, options.samples, token)}")
        finally:
            server.stop()
            database.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
