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

from bench.harness import ROOT, Database, Server, production_env

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
def fuzz_target(tmp_path_factory):
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
    server = Server(env, scratch / "web.log")
    server.wait_until_up()
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


def _assert_clean(result: subprocess.CompletedProcess, server: Server) -> None:
    """No finding about the API: no failed check (schemathesis labels them ST101, ST202...), no
    server error in the log, and a run that really tested. schemathesis also exits non-zero when
    it crashes itself (rarely, in its coverage phase); that is tolerated only as such a crash."""
    findings = re.findall(r"ST\d{3} [^\n:]+", result.stdout)
    assert not findings, result.stdout[-6000:]
    generated = re.search(r"(\d+) generated", result.stdout)
    assert generated, result.stdout[-3000:]
    assert int(generated.group(1)) >= 100, result.stdout[-3000:]
    if result.returncode != 0:
        assert "site-packages/schemathesis/" in result.stdout, result.stdout[-6000:]
        print("schemathesis crashed internally on one operation; no finding about the API")
    log = server.log_path.read_text()
    assert "Traceback" not in log
    assert '"status": 500' not in log


@pytest.mark.parametrize("phases", [FIXED_PHASES, TIMED_PHASES])
def test_fuzz_as_anonymous(fuzz_target, phases) -> None:
    _assert_clean(fuzz(fuzz_target, ANONYMOUS, phases), fuzz_target)


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
        FUZZ_PASSWORD="harness-keeper-password",
    )

    _assert_clean(result, fuzz_target)
    refused_everywhere = set(re.findall(r"^\s+- (\w+ /\S+)$", result.stdout, re.MULTILINE))
    assert not refused_everywhere & AUTHENTICATED_READS, refused_everywhere
