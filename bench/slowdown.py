"""Does a flood of guesses at one account slow everyone else down? 48 clients guess the password
of ``bench1`` from 96 addresses (``X-Forwarded-For``, one trusted proxy hop, as behind Heroku's
router) against gunicorn with production settings, while one more client asks ``/health``
every 50 ms. Prints the guesses' answers and ``/health``'s latency, idle and during the flood.

    python bench/slowdown.py --seconds 20
"""

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Database, Server, call, production_env
from bench.seed import seed_users

ATTACKERS = 48
ADDRESSES = 96


def health_latencies(base_url: str, stop: threading.Event, every: float = 0.05) -> list[float]:
    latencies = []
    while not stop.is_set():
        started = time.perf_counter()
        call(base_url, "GET", "/health", timeout=30)
        latencies.append((time.perf_counter() - started) * 1000)
        time.sleep(every)
    return latencies


def watch_health(base_url: str, seconds: float) -> list[float]:
    """``/health``'s latencies over ``seconds``, nothing else going on."""
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    return health_latencies(base_url, stop)


def guess(base_url: str, number: int, stop: threading.Event, answers: Counter) -> None:
    attempt = 0
    while not stop.is_set():
        address = f"198.51.100.{(number + attempt * ATTACKERS) % ADDRESSES + 1}"
        attempt += 1
        status = call(
            base_url,
            "POST",
            "/login",
            {"username": "bench1", "password": f"guess-{number}-{attempt}"},
            headers={"X-Forwarded-For": address},
            timeout=60,
        )[0]
        answers[status] += 1


def describe(name: str, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    return (
        f"{name:<28} n={len(ordered):<5} p50 {statistics.median(ordered):8.1f} ms"
        f"   p90 {ordered[int(len(ordered) * 0.9)]:8.1f} ms   max {ordered[-1]:8.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gatehouse-slowdown-") as scratch:
        database = Database(Path(scratch))
        env = production_env(database.url, TRUSTED_PROXY_HOPS="1", WEB_CONCURRENCY="2")
        database.flask("init-db", env=env)
        seed_users(database.url, 10, "bench-password-1", prefix="bench")
        server = Server(env, Path(scratch) / "web.log")
        try:
            server.wait_until_up()
            stop = threading.Event()
            idle = threading.Thread(
                target=lambda: result.extend(health_latencies(server.base_url, stop))
            )
            result: list[float] = []
            idle.start()
            time.sleep(3)
            stop.set()
            idle.join()
            idle_latencies = list(result)
            stop, answers, result = threading.Event(), Counter(), []
            threads = [
                threading.Thread(target=guess, args=(server.base_url, number, stop, answers))
                for number in range(ATTACKERS)
            ]
            for thread in threads:
                thread.start()
            time.sleep(2)  # the name is under attack by now
            watcher = threading.Thread(
                target=lambda: result.extend(health_latencies(server.base_url, stop))
            )
            watcher.start()
            time.sleep(options.seconds)
            stop.set()
            for thread in [*threads, watcher]:
                thread.join()
        finally:
            server.stop()
            database.cleanup()
    total = sum(answers.values())
    print(f"{ATTACKERS} clients, {ADDRESSES} addresses, {options.seconds} s")
    print(
        "guesses answered: "
        + ", ".join(f"{status}: {count}" for status, count in sorted(answers.items()))
        + f" ({total / (options.seconds + 2):.0f}/s)"
    )
    print(describe("GET /health, idle", idle_latencies))
    print(describe("GET /health, during flood", result))


if __name__ == "__main__":
    main()
