"""Webhooks: how fast the worker delivers, and what writing events costs the changes that make
them. On a throwaway embedded PostgreSQL:

1. ``--events`` account events (``user.updated``) are written while the worker is down, then
   the worker (``flask mail-worker``, as the Procfile runs it) is started and delivers them to
   one endpoint, a receiver on this machine answering 204: deliveries per second, from the
   first to the last received.
2. A role change and a registration's insert (the user row and its audit event, without the
   password hash, whose argon2 time would hide everything else), timed with the schema as it is
   and with what webhooks added taken away (the audit trail's transaction column default and
   its index): the difference is what event writing for webhooks costs.

    python bench/webhooks.py --events 1000 --changes 300
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import FLASK, Database, production_env  # noqa: E402

SECRET_KEY = "bench-webhooks-secret-key-" + "w" * 40
ROUNDS = 5


class Receiver:
    """Answers 204 to every POST and notes when each came."""

    def __init__(self) -> None:
        self.times: list[float] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.times.append(time.monotonic())
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def in_app(env: dict[str, str]):
    """The app of this process, on the benchmark's database (development settings)."""
    os.environ.update({key: env[key] for key in ("DATABASE_URL", "SECRET_KEY")})
    os.environ["APP_CONFIG"] = "development"
    os.environ["FLASK_SKIP_DOTENV"] = "1"
    os.environ["WEBHOOK_ALLOWED_ORIGINS"] = env["WEBHOOK_ALLOWED_ORIGINS"]
    os.environ["CHECK_PERMISSIONS_AT_START"] = "false"
    from app import create_app

    return create_app("development")


def write_events(app, count: int, url: str) -> int:
    """An endpoint for ``url`` and ``count`` events for it, written while no worker runs."""
    from app.audit import record_event
    from app.events import endpoints
    from app.extensions import db
    from app.models import User

    with app.app_context():
        user = User(username="bench", email="bench@example.com", password="x")
        db.session.add(user)
        endpoint, _ = endpoints.create(url, ["user.*"], "bench")
        db.session.commit()
        for start in range(0, count, 500):
            for number in range(start, min(start + 500, count)):
                record_event(
                    "user.deactivated" if number % 2 else "user.activated",
                    user.user_id,
                    {"is_active": [number % 2 == 0, number % 2 == 1]},
                )
            db.session.commit()
        return endpoint.id


def delivery_rate(env: dict[str, str], receiver: Receiver, count: int, log: Path) -> dict:
    """Start the worker; time the deliveries."""
    started = time.monotonic()
    with log.open("w") as output:
        worker = subprocess.Popen(
            [*FLASK, "mail-worker"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = started + 60 + count / 10
        while len(receiver.times) < count and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    times = sorted(receiver.times)
    if len(times) < count:
        raise SystemExit(f"only {len(times)} of {count} delivered: see {log}")
    spread = times[-1] - times[0]
    return {
        "delivered": len(times),
        "first_after_start_s": times[0] - started,
        "per_second": (len(times) - 1) / spread if spread else float("inf"),
    }


def timed_changes(app, changes: int) -> dict[str, float]:
    """Median microseconds of a role change and of a registration's insert."""
    from app.extensions import db
    from app.models import User

    with app.app_context():
        tag = time.time_ns()
        user = User(username=f"changer{tag}", email=f"changer{tag}@example.com", password="x")
        db.session.add(user)
        db.session.commit()
        role_changes, registrations = [], []
        for number in range(changes):
            started = time.perf_counter()
            user.rolenames = ["user", "operator"] if number % 2 else ["user"]
            db.session.commit()
            role_changes.append(time.perf_counter() - started)
            started = time.perf_counter()
            db.session.add(
                User(username=f"r{time.time_ns()}", email=f"r{time.time_ns()}@x.org", password="x")
            )
            db.session.commit()
            registrations.append(time.perf_counter() - started)
        return {
            "role_change_us": statistics.median(role_changes) * 1e6,
            "registration_insert_us": statistics.median(registrations) * 1e6,
        }


def set_webhook_schema(app, present: bool) -> None:
    """Put back, or take away, what webhooks add to each audit event's insert."""
    from sqlalchemy import text

    from app.extensions import db

    with app.app_context():
        if present:
            db.session.execute(
                text(
                    "ALTER TABLE audit_events ALTER COLUMN transaction_id "
                    "SET DEFAULT (pg_current_xact_id())::text::bigint;"
                    "CREATE INDEX IF NOT EXISTS ix_audit_events_transaction "
                    "ON audit_events (transaction_id, id)"
                )
            )
        else:
            db.session.execute(
                text(
                    "ALTER TABLE audit_events ALTER COLUMN transaction_id SET DEFAULT 0;"
                    "DROP INDEX IF EXISTS ix_audit_events_transaction"
                )
            )
        db.session.commit()


def overhead(app, changes: int) -> dict[str, float]:
    """Each variant's medians over ``ROUNDS`` alternating rounds."""
    results: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    for _ in range(ROUNDS):
        for present in (False, True):
            set_webhook_schema(app, present)
            results[present].append(timed_changes(app, changes))
    set_webhook_schema(app, True)
    figures = {}
    for key in ("role_change_us", "registration_insert_us"):
        without = statistics.median(r[key] for r in results[False])
        with_events = statistics.median(r[key] for r in results[True])
        figures[key] = (without, with_events, (with_events - without) / without * 100)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=300, help="changes timed per round")
    options = parser.parse_args()
    receiver = Receiver()
    with tempfile.TemporaryDirectory(prefix="gatehouse-webhooks-") as scratch:
        database = Database(Path(scratch))
        try:
            env = production_env(
                database.url,
                APP_CONFIG="development",
                SECRET_KEY=SECRET_KEY,
                MAIL_BACKEND="locmem",
                WEBHOOK_ALLOWED_ORIGINS=receiver.origin,
            )
            database.flask("init-db", env=env)
            app = in_app(env)
            write_events(app, options.events, receiver.origin + "/hook")
            rate = delivery_rate(env, receiver, options.events, Path(scratch) / "worker.log")
            print(
                f"delivered {rate['delivered']} events to one endpoint: "
                f"{rate['per_second']:.0f} deliveries/s "
                f"(first {rate['first_after_start_s']:.1f} s after the worker started)"
            )
            for name, (without, with_events, percent) in overhead(app, options.changes).items():
                print(
                    f"{name}: {without:.0f} us without webhook event writing, "
                    f"{with_events:.0f} us with it ({percent:+.1f}%)"
                )
        finally:
            database.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
