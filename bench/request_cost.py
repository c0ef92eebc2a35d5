"""What a request costs in CPU inside one Python process, without a server: the one-round-trip
app (bench/round_trip_app.py), Gatehouse's /health, GET /users/me and the list, and the parts
of GET /users/me, each timed alone (bench/README.md, "Where a request's time goes").

Each figure is the median over ``--rounds`` rounds of the CPU time (``time.process_time``) per
call over ``--calls`` calls, after a warm-up; the database is an embedded PostgreSQL on its
unix socket, and the access log goes to /dev/null.

    python bench/request_cost.py --calls 2000 --rounds 5
    python bench/request_cost.py --ablation   # each fast path switched off, in CPU per call

CPU time in one process is steadier than a server's req/s on a shared machine (neighbours take
cores, not this process's CPU time), so ``--ablation`` here sees changes of a few per cent that
``bench.py --ablation`` cannot tell from noise; it leaves out PostgreSQL's own CPU.
"""

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench import PASSWORD, bench_database


def cpu_us(work, calls: int, rounds: int) -> float:
    """The median over ``rounds`` of the CPU microseconds per call of ``work``."""
    for _ in range(min(calls, 200)):
        work()
    per_call = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(calls):
            work()
        per_call.append((time.process_time() - started) / calls * 1e6)
    return statistics.median(per_call)


def wsgi_get(app, path: str, headers: dict):
    """A GET through the app's WSGI callable, as a server would make it (the environ is built
    outside the timed part)."""
    from werkzeug.test import EnvironBuilder

    environs = []

    def start_response(status, response_headers, exc_info=None):
        return None

    def call():
        if not environs:
            environs.extend(
                EnvironBuilder(path=path, headers=headers).get_environ() for _ in range(500)
            )
        body = app(environs.pop(), start_response)
        b"".join(body)
        body.close()

    return call


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ablation", action="store_true", help="Each fast path off in turn.")
    options = parser.parse_args()
    measure = lambda work: cpu_us(work, options.calls, options.rounds)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="gatehouse-cost-") as scratch:
        database, env = bench_database(Path(scratch))
        try:
            os.environ.update(env)
            import bench.round_trip_app as reference

            # First: Gatehouse's app adds its listeners to every SQLAlchemy session.
            reference_cost = measure(wsgi_get(reference.app, "/", {}))
            from app import create_app
            from app.models import User
            from app.observability import ACCESS_LOG
            from app.schemas.user import SelfUserSchema
            from app.tokens import access, claims

            app = create_app("production")
            ACCESS_LOG.handlers[0].setStream(open(os.devnull, "w"))  # noqa: SIM115
            answer = app.test_client().post(
                "/login", json={"username": "bench1", "password": PASSWORD}
            )
            token = answer.get_json()["access_token"]
            bearer = {"Authorization": f"Bearer {token}"}
            if options.ablation:
                return print_ablation(
                    create_app, bearer, options.calls, options.rounds, reference_cost
                )
            rows = [
                ("one-round-trip app (SELECT 1)", reference_cost),
                ("Gatehouse GET /health", measure(wsgi_get(app, "/health", {}))),
                ("Gatehouse GET /users/me", measure(wsgi_get(app, "/users/me", bearer))),
                (
                    "Gatehouse GET /users?per_page=20",
                    measure(wsgi_get(app, "/users?per_page=20", bearer)),
                ),
            ]
            with app.test_request_context("/users/me", headers=bearer):
                data = access.read(token)
                user_id, session_id = data[claims.USER], data[claims.SESSION]
                user = User.token_subject(user_id, session_id)[0]
                schema = SelfUserSchema()
                fields = {"path": "/users/me", "status": 200, "user_id": user_id}
                parts = [
                    ("  PyJWT: verify the access token (EdDSA)", lambda: access.read(token)),
                    (
                        "  the token's user and session (one statement, ORM)",
                        lambda: User.token_subject(user_id, session_id),
                    ),
                    ("  marshmallow: dump the user", lambda: schema.dump(user)),
                    (
                        "  the access log line (JSON, to /dev/null)",
                        lambda: ACCESS_LOG.info("request", extra={"fields": fields}),
                    ),
                ]
                rows += [(label, measure(work)) for label, work in parts]
        finally:
            with contextlib.suppress(Exception):
                database.cleanup()
    print(f"{'CPU per call, one process':56}{'us':>8}{'x ref':>8}")
    for label, cost in rows:
        print(f"{label:56}{cost:>8.0f}{cost / reference_cost:>8.2f}")
    return 0


def print_ablation(create_app, bearer: dict, calls: int, rounds: int, reference_cost) -> int:
    """CPU per call of GET /users/me and of the list with every fast path on, then each off
    (and all on again at the end: the noise floor). The variants take turns within each round
    and the least of the rounds is kept: time taken from this machine by others only ever adds
    to a figure."""
    from app.config import FAST_PATHS

    variants = {"all on": ()} | {f"{name} off": (name,) for name in FAST_PATHS}
    variants["all on, again"] = ()
    paths = ("/users/me", "/users?per_page=20")
    works = {}
    for label, off in variants.items():
        app = create_app("production", overrides={"FAST_PATHS": set(FAST_PATHS) - set(off)})
        works[label] = [wsgi_get(app, path, bearer) for path in paths]
    costs = {label: [float("inf")] * len(paths) for label in variants}
    for _ in range(rounds):
        for label, calls_of_paths in works.items():
            for index, work in enumerate(calls_of_paths):
                costs[label][index] = min(costs[label][index], cpu_us(work, calls, 1))
    print(f"{'CPU per call, one process (least of rounds)':50}{'us':>8}{'x ref':>8}{'change':>8}")
    print(f"{'one-round-trip app (SELECT 1)':50}{reference_cost:>8.0f}{1:>8.2f}")
    for index, path in enumerate(paths):
        for label, cost in costs.items():
            change = cost[index] / costs["all on"][index] - 1
            print(
                f"{f'GET {path}, {label}':50}{cost[index]:>8.0f}"
                f"{cost[index] / reference_cost:>8.2f}{change * 100:>+7.0f}%"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
