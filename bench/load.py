"""A bounded load run: N concurrent clients sign in, read and write against a real gunicorn for a
fixed time, then the figures: requests, errors, p50/p99. Errors must be 0 (exit 1 otherwise).

    python bench/load.py --clients 16 --seconds 20
"""

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Database, Server, production_env
from bench.seed import seed_users

PASSWORD = "load-test-password"


class Client:
    """One keep-alive connection, timing every request."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.token = None
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def request(self, method: str, path: str, body=None, expected=(200,)):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        started = time.perf_counter()
        self.connection.request(
            method, path, json.dumps(body) if body is not None else None, headers
        )
        response = self.connection.getresponse()
        raw = response.read()
        self.latencies.append(time.perf_counter() - started)
        if response.status not in expected:
            self.errors.append(f"{method} {path} -> {response.status} {raw[:200]!r}")
            return None
        return json.loads(raw) if raw else None


def run_client(port: int, username: str, deadline: float, client: Client) -> None:
    body = client.request("POST", "/login", {"username": username, "password": PASSWORD})
    if body is None:
        return
    client.token = body["access_token"]
    created = client.request("POST", "/bucketlists", {"name": f"{username}'s list"}, (201,))
    list_id = created["id"] if created else None
    step = 0
    while time.monotonic() < deadline:
        step += 1
        client.request("GET", "/users/me")
        client.request("GET", "/users?per_page=20")
        if list_id is not None:
            client.request(
                "POST", f"/bucketlists/{list_id}/items", {"title": f"step {step}"}, (201,)
            )
            client.request("GET", f"/bucketlists/{list_id}/items?per_page=10")
            client.request("PATCH", f"/bucketlists/{list_id}", {"description": f"step {step}"})


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gatehouse-load-") as scratch:
        database = Database(Path(scratch))
        env = production_env(database.url, WEB_CONCURRENCY=str(options.workers))
        database.flask("init-db", env=env)
        usernames = seed_users(database.url, options.clients, PASSWORD, prefix="load")
        server = Server(env, Path(scratch) / "web.log")
        try:
            server.wait_until_up()
            deadline = time.monotonic() + options.seconds
            clients = [Client(server.port) for _ in usernames]
            threads = [
                threading.Thread(target=run_client, args=(server.port, name, deadline, client))
                for name, client in zip(usernames, clients, strict=True)
            ]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
        finally:
            server.stop()
            database.cleanup()

    latencies = [value for client in clients for value in client.latencies]
    errors = [error for client in clients for error in client.errors]
    print(f"clients {options.clients}, workers {options.workers}, {elapsed:.1f} s")
    print(f"requests {len(latencies)} ({len(latencies) / elapsed:.0f}/s), errors {len(errors)}")
    print(
        f"latency p50 {percentile(latencies, 0.50) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
        f"mean {statistics.fmean(latencies) * 1000:.1f} ms"
    )
    for error in errors[:10]:
        print("error:", error)
    return 1 if errors or not latencies else 0


if __name__ == "__main__":
    sys.exit(main())
