"""The benchmark reads wrk's report correctly (the figures in docs/performance.md come from it).

These test the benchmark's own code, so they live beside it (the app's tests in tests/ never
import bench/). How long an argon2 verification takes is the benchmark's to measure when it
runs, not a test's."""

import argparse

import pytest

from bench.bench import (
    fastest_round_verification,
    measure_rounds,
    run_wrk_report,
    server_kinds,
    to_ms,
)
from bench.harness import server_command

REPORT = """Running 5s test @ http://127.0.0.1:8000/users/me
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.31ms    1.02ms  14.20ms   87.50%
    Req/Sec     3.41k   150.00     3.60k    82.50%
  Latency Distribution
     50%    2.10ms
     75%    2.50ms
     90%    3.10ms
     99%    1.05s
  17000 requests in 5.00s, 2.10MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   3400.12
Transfer/sec:    430.00KB
"""


def test_the_report_is_read_from_its_distribution_lines() -> None:
    """The thread statistics end in percentages too ("87.50%"): they are not the median."""
    figures = run_wrk_report(REPORT)

    assert figures == {
        "rps": 3400.12,
        "p50": 2.10,
        "p99": 1050.0,
        "errors": 3,
        "socket_errors": "",
    }


@pytest.mark.parametrize(
    ("text", "ms"), [("250.00us", 0.25), ("2.10ms", 2.1), ("1.05s", 1050.0), ("1.50m", 90_000.0)]
)
def test_wrk_times_are_read_in_milliseconds(text, ms) -> None:
    assert to_ms(text) == pytest.approx(ms)


def test_an_unreadable_time_names_itself() -> None:
    with pytest.raises(RuntimeError, match="'Req/Sec'"):
        to_ms("Req/Sec")


def test_the_login_limit_pairs_the_verifications_around_each_round() -> None:
    # Round 1: 0.030 before, 0.040 after (0.035); round 2: 0.020 and 0.060 (0.040).
    assert fastest_round_verification([0.030, 0.040, 0.020, 0.060]) == pytest.approx(0.035)


@pytest.mark.parametrize("verifications", [[], [0.03], [0.03, 0.04, 0.05]])
def test_the_login_limit_refuses_unpaired_verifications(verifications) -> None:
    with pytest.raises(ValueError, match="before and one after"):
        fastest_round_verification(verifications)


def rounds_with(bare_rates: list[float], rounds: int = 2, earlier: tuple = ()):
    """measure_rounds over bare runs at these rates; the scenario's n-th run reports n."""
    bare = iter(bare_rates)
    scenario = iter(range(1, 100))
    return measure_rounds(
        rounds,
        lambda: {"rps": next(bare)},
        lambda: {"rps": next(scenario)},
        [{"rps": rate} for rate in earlier],
    )


def test_rounds_on_a_steady_machine_are_not_repeated() -> None:
    runs, alongside, extra = rounds_with([4000, 3900], earlier=(4100,))

    assert (runs, alongside, extra) == ([{"rps": 1}, {"rps": 2}], [{"rps": 4000}, {"rps": 3900}], 0)


def test_a_round_after_a_slow_bare_run_is_repeated() -> None:
    """2,800 is below 0.85 of the 4,400 measured before: that round does not count."""
    runs, alongside, extra = rounds_with([2800, 4300, 4200], earlier=(4400,))

    assert extra == 1
    assert [run["rps"] for run in runs] == [1, 2, 3]
    assert [run["rps"] for run in alongside] == [2800, 4300, 4200]


def test_the_reference_includes_the_scenarios_own_bare_runs() -> None:
    """The 4,000 of this scenario's first round makes its 3,000 slow (the earlier best is
    3,100), so a third round runs."""
    runs, alongside, extra = rounds_with([4000, 3000, 3900], earlier=(3100,))

    assert extra == 1
    assert len(runs) == 3
    assert [run["rps"] for run in alongside] == [4000, 3000, 3900]


def test_repeats_stop_after_as_many_extra_rounds_as_rounds() -> None:
    """A machine slow for the whole scenario: 2 counted + 2 extra, then the figures stand."""
    runs, alongside, extra = rounds_with([2000, 2100, 2000, 2050, 1990], earlier=(4400,))

    assert extra == 2
    assert len(runs) == len(alongside) == 4


def test_each_server_serves_the_app_it_is_given() -> None:
    env = {"WEB_CONCURRENCY": "3", "GUNICORN_THREADS": "4"}

    gthread = server_command("gthread", "app:create_app()", 8000, env)
    sync = server_command("sync", "app:create_app()", 8000, env)
    granian = server_command("granian", "app:create_app()", 8000, env)
    plain = server_command("granian", "bench.round_trip_app:app", 8000, env)

    assert gthread[1:] == ["-m", "gunicorn", "app:create_app()", "--bind", "127.0.0.1:8000"]
    assert sync[-4:] == ["--worker-class", "sync", "--threads", "1"]
    assert granian[granian.index("--workers") + 1] == "3"
    assert granian[granian.index("--blocking-threads") + 1] == "4"
    assert granian[-2:] == ["--factory", "app:create_app"]
    assert "--factory" not in plain
    assert plain[-1] == "bench.round_trip_app:app"


def test_an_unknown_server_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown server 'uwsgi'"):
        server_command("uwsgi", "app:create_app()", 8000, {})
    with pytest.raises(argparse.ArgumentTypeError, match="gthread, sync, granian or all"):
        server_kinds("gthread,uwsgi")
    assert server_kinds("all") == ["gthread", "sync", "granian"]
    assert server_kinds("granian,sync") == ["granian", "sync"]
