"""Account security against a real gunicorn with four workers: the two-step login with codes
computed from the returned secret, a code refused a second time by any worker, a lockout that
every worker enforces for one address only, and parallel uses of one recovery code of which
exactly one succeeds."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.processes import call
from tests.support.signin import login_over_http
from tests.support.totp import Authenticator

PASSWORD = "security-e2e-passphrase"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(serve):
    # Requests name their client address (X-Forwarded-For, as Heroku's router sets it).
    return serve(WEB_CONCURRENCY="4", MAIL_BACKEND="locmem", TRUSTED_PROXY_HOPS="1")


def login(base: str, username: str, password: str = PASSWORD, address: str = "203.0.113.1"):
    return login_over_http(base, username, password, headers={"X-Forwarded-For": address})


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
    assert {body["error"] for status, _, body in results if status == 401} == {
        "invalid_credentials"
    }
    signed_in = next(body for status, _, body in results if status == 200)
    status, _, me = call(server.base_url, "GET", "/users/me", token=signed_in["access_token"])
    assert status == 200
    assert me["username"] == username


def test_parallel_uses_of_one_recovery_code_let_one_in(server, enrolled) -> None:
    username, _, codes = enrolled

    def second_step(_):
        status, _, first = login(server.base_url, username)
        assert status == 200
        return call(
            server.base_url,
            "POST",
            "/login/mfa",
            {"mfa_token": first["mfa_token"], "recovery_code": codes[0]},
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(second_step, range(4)))

    assert sorted(status for status, _, _ in results) == [200, 401, 401, 401]
    for status, _, body in results:
        if status == 200:
            assert body["token_type"] == "Bearer"
        else:
            assert body["error"] == "invalid_credentials"


def test_every_worker_enforces_a_lockout_for_its_address_only(server, make_user) -> None:
    make_user("target1", password=PASSWORD)

    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = list(
            pool.map(lambda _: login(server.base_url, "target1", "wrong-password-x"), range(5))
        )
    locked = [login(server.base_url, "target1") for _ in range(4)]
    elsewhere = login(server.base_url, "target1", address="198.51.100.99")

    assert [(status, body["error"]) for status, _, body in failures] == [
        (401, "invalid_credentials")
    ] * 5
    assert [(status, body["error"]) for status, _, body in locked] == [(429, "rate_limited")] * 4
    assert all(int(headers["Retry-After"]) > 0 for _, headers, _ in locked)
    # The owner, from another address, still signs in.
    status, _, body = elsewhere
    assert status == 200, body
    assert body["token_type"] == "Bearer"
