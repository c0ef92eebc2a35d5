"""schemathesis against /openapi.json on a real gunicorn, as an anonymous client and as an
admin: no 5xx, and every response conforms to the document (status codes, content types, bodies,
headers); valid requests are accepted and invalid ones refused; no answer takes longer than
``SLOWEST_ANSWER`` seconds.

Each identity gets two runs: the schema's examples and the coverage phase (a fixed set of cases
for every operation, run to the end), then fuzzing and stateful scenarios for ``FUZZ_SECONDS``.
In one run the time budget covers every phase, so a slow coverage phase could leave fuzzing no
time at all."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import (
    ROOT,
    SEED_ADMIN_PASSWORD,
    Database,
    Server,
    production_env,
)

SECONDS_PER_RUN = os.environ.get("FUZZ_SECONDS", "25")
SEED = os.environ.get("FUZZ_SEED", "20261122")
# A request unanswered this long fails the run (schemathesis's response-time check); one that
# hangs is cut off at twice that and reported as such.
SLOWEST_ANSWER = 5
FIXED_PHASES = "examples,coverage"
TIMED_PHASES = "fuzzing,stateful"
ANONYMOUS = Path(__file__).with_name("schemathesis.toml")
ADMIN = Path(__file__).with_name("schemathesis-admin.toml")
# Reads that only the admin's token authorizes: if any of them saw nothing but 401/403, the run
# was not really authenticated. (Other operations may legitimately see only 401: those whose
# credential is in the body, or after the fuzzer itself changed the admin's roles.)
AUTHENTICATED_READS = {
    "GET /users",
    "GET /users/me",
    "GET /users/admin-only",
    "GET /audit-events",
    "GET /bucketlists",
}


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory, serve):
    """A server on a database of its own (the fuzzer changes what it finds), seeded."""
    scratch = tmp_path_factory.mktemp("fuzz")
    database = Database(scratch)
    # Generated logins may guess "admin": a lockout, or the pacing of an address that failed on
    # a name under attack, would starve the admin run of tokens (all its requests come from one
    # address). Both have their own tests (tests/test_login_hardening.py).
    env = production_env(
        database.url,
        WEB_CONCURRENCY="2",
        LOGIN_MAX_FAILURES="100000",
        LOGIN_SLOWDOWN_AFTER="100000",
    )
    database.flask("init-db", env=env)
    database.flask("seed-db", env=env)
    server = serve(env=env)
    yield server
    server.stop()
    database.cleanup()


def fuzz(
    server: Server, config: Path, phases: str, *options: str, **env: str
) -> subprocess.CompletedProcess:
    budget = ["--max-time", SECONDS_PER_RUN] if phases == TIMED_PHASES else []
    command = [
        shutil.which("schemathesis") or "schemathesis",
        "--config-file",
        str(config),
        "run",
        f"{server.base_url}/openapi.json",
        # Every check runs by default. (``--checks all`` would also switch back on, from the
        # command line, which outranks the config file, the checks the config turns off.)
        "--phases",
        phases,
        *budget,
        "--max-response-time",
        str(SLOWEST_ANSWER),
        "--request-timeout",
        str(2 * SLOWEST_ANSWER),
        "--workers",
        "2",
        "--seed",
        SEED,
        "--suppress-health-check",
        "all",
        *options,
    ]
    result = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    summary = re.search(r"Test cases:\s*\n\s*(.+)", result.stdout)
    print(f"schemathesis ({config.stem}, {phases}): {summary.group(1) if summary else '?'}")
    return result


# A failing run's summary names each kind of error it met ("🚫 Network Error: 3"); "Runtime
# Error" is the kind of an exception raised inside schemathesis itself, every other kind (a
# network error, an unresponsive operation, an unavailable server, a schema error...) is about
# the API or its document. (Its exit code does not tell them apart: 4.32 exits 1 for its own
# crash in the coverage phase, as for a failed check.)
OWN_CRASH = "Runtime Error"


def error_kinds(output: str) -> dict[str, int]:
    """The kinds of error in schemathesis's summary, with their counts."""
    return {kind: int(count) for kind, count in re.findall(r"🚫 ([^:\n]+): (\d+)", output)}


def _assert_clean(result: subprocess.CompletedProcess, server_log: str) -> None:
    """No finding about the API: no failed check (schemathesis labels them ST101, ST202...), no
    server error in the log, and a run that really tested. The run exits 0, except for a crash
    of schemathesis itself (rarely, in its coverage phase): then its summary lists errors of
    that kind alone, raised in its own code."""
    findings = re.findall(r"ST\d{3} [^\n:]+", result.stdout)
    assert not findings, result.stdout[-6000:]
    generated = re.search(r"(\d+) generated", result.stdout)
    assert generated, result.stdout[-3000:]
    assert int(generated.group(1)) >= 100, result.stdout[-3000:]
    if result.returncode != 0:
        kinds = error_kinds(result.stdout)
        assert set(kinds) == {OWN_CRASH}, (kinds, result.stdout[-6000:])
        assert "site-packages/schemathesis/" in result.stdout, result.stdout[-6000:]
        print(f"schemathesis crashed internally {kinds[OWN_CRASH]} time(s); no finding")
    assert "Traceback" not in server_log
    assert '"status": 500' not in server_log


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("phases", [FIXED_PHASES, TIMED_PHASES])
def test_fuzz_as_anonymous(fuzz_target, phases) -> None:
    _assert_clean(fuzz(fuzz_target, ANONYMOUS, phases), fuzz_target.log_path.read_text())


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("phases", [FIXED_PHASES, TIMED_PHASES])
def test_fuzz_as_admin(fuzz_target, phases) -> None:
    result = fuzz(
        fuzz_target,
        ADMIN,
        phases,
        # Logging out would end every token the run fetches; the anonymous run and the unit
        # tests cover it.
        "--exclude-path",
        "/logout",
        FUZZ_USERNAME="admin",
        FUZZ_PASSWORD=SEED_ADMIN_PASSWORD,
    )

    _assert_clean(result, fuzz_target.log_path.read_text())
    refused_everywhere = set(re.findall(r"^\s+- (\w+ /\S+)$", result.stdout, re.MULTILINE))
    assert not refused_everywhere & AUTHENTICATED_READS, refused_everywhere


def run_output(returncode: int, errors: str = "", traceback: bool = False):
    """What a schemathesis run prints, in the parts ``_assert_clean`` reads."""
    frame = '  File "/venv/lib/python3.11/site-packages/schemathesis/engine/core.py"\n'
    stdout = (
        (frame if traceback else "")
        + (f"Errors:\n{errors}\n" if errors else "")
        + "Test cases:\n  1158 generated, 1158 passed\n"
    )
    return subprocess.CompletedProcess(["schemathesis"], returncode, stdout, "")


def test_a_clean_run_and_a_crash_of_schemathesis_alone_pass_the_verdict() -> None:
    _assert_clean(run_output(0), server_log="")
    for code in (1, 2):
        _assert_clean(run_output(code, "  🚫 Runtime Error: 1", traceback=True), server_log="")


@pytest.mark.parametrize(
    "result",
    [
        pytest.param(run_output(1, "  ST101 Server error", traceback=True), id="a failed check"),
        pytest.param(run_output(1, traceback=True), id="a failing exit with no error named"),
        pytest.param(
            run_output(2, "  🚫 Network Error: 1\n  🚫 Runtime Error: 1", traceback=True),
            id="a network error beside its own crash",
        ),
        pytest.param(
            run_output(2, "  🚫 Unresponsive Operation: 1", traceback=True),
            id="an unresponsive operation",
        ),
        pytest.param(run_output(2, "  🚫 Runtime Error: 1"), id="a crash outside schemathesis"),
        pytest.param(run_output(2, traceback=True), id="errors not named"),
    ],
)
def test_any_other_failing_run_fails_the_verdict(result) -> None:
    """The old verdict passed any failing run whose output mentioned schemathesis's own code."""
    with pytest.raises(AssertionError):
        _assert_clean(result, server_log="")
