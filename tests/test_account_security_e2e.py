"""Account security against a real gunicorn with four workers: the two-step login with codes
computed from the returned secret, a code refused a second time by any worker, a lockout that
every worker enforces for one address only, and parallel uses of one recovery code of which
exactly one succeeds."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.harness import call, production_env, serving
from tests.support.totp import Authenticator

PASSWORD = "security-e2e-passphrase"


@pytest.fixture(scope="module")
def server(migrated_database, tmp_path_factory):
    with serving(
        production_env(migrated_database, WEB_CONCURRENCY="4", MAIL_BACKEND="locmem"),
        tmp_path_factory.mktemp("security") / "web.log",
    ) as running:
        yield running


def login(base: str, username: str, password: str = PASSWORD):
    return call(base, "POST", "/login", {"username": username, "password": password})


@pytest.fixture
def enrolled(server, make_user):
    """An account with MFA on, through the API: (username, authenticator, recovery codes)."""
    make_user("secure1", password=PASSWORD)
    status, _, tokens = login(server.base_url, "secure1")
    assert status == 200
    token = tokens["access_token"]
    status, _, started = call(server.base_url, "POST", "/users/me/mfa/totp", token=token)
    assert status == 200
    authenticator = Authenticator(started["secret"])
    status, _, confirmed = call(
        server.base_url,
        "POST",
        "/users/me/mfa/totp/confirm",
        {"code": authenticator.code()},
        token=token,
    )
    assert status == 200
    return "secure1", authenticator, confirmed["recovery_codes"]


def test_the_two_step_login_and_a_code_that_works_once_in_any_worker(server, enrolled) -> None:
    username, authenticator, _ = enrolled
    code = authenticator.code()

    def second_step(_):
        status, _, first = login(server.base_url, username)
        assert status == 200
        assert first["mfa_required"] is True
        return call(
            server.base_url, "POST", "/login/mfa", {"mfa_token": first["mfa_token"], "code": code}
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(second_step, range(4)))

    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200, 401, 401, 401]
    signed_in = next(body for status, _, body in results if status == 200)
    assert call(server.base_url, "GET", "/users/me", token=signed_in["access_token"])[0] == 200


def test_parallel_uses_of_one_recovery_code_let_one_in(server, enrolled) -> None:
    username, _, codes = enrolled

    def second_step(_):
        _, _, first = login(server.base_url, username)
        return call(
            server.base_url,
            "POST",
            "/login/mfa",
            {"mfa_token": first["mfa_token"], "recovery_code": codes[0]},
        )[0]

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(second_step, range(4)))

    assert statuses == [200, 401, 401, 401]


def test_every_worker_enforces_a_lockout_for_its_address_only(server, make_user) -> None:
    make_user("target1", password=PASSWORD)

    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = list(
            pool.map(lambda _: login(server.base_url, "target1", "wrong-password-x")[0], range(5))
        )
    locked = [login(server.base_url, "target1")[0] for _ in range(4)]

    assert failures == [401] * 5
    assert locked == [429] * 4
