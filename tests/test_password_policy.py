"""The password policy (ASVS 6.2): one check, with reasons a person can act on, for
registration, an admin's account creation, a password change, a reset and the seed accounts;
the optional breach check asks Have I Been Pwned's range API (only that HTTP call is mocked)."""

import hashlib
import io
import re
import urllib.request

import pytest
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from app.accounts.password_policy import (
    BREACHED,
    COMMON,
    CONTAINS_EMAIL,
    CONTAINS_USERNAME,
    GUESSABLE,
    password_problems,
)
from app.cli import SEED_ACCOUNTS

STRONG = "amber-quarry-signal"
WEAK = {
    "newcomer-2026": [CONTAINS_USERNAME],
    "NEWCOMER-2026": [CONTAINS_USERNAME],
    "ada.lovelace!!": [CONTAINS_EMAIL],
    "password1234": [COMMON],
    "QWERTYUIOP123": [COMMON],
}
GUESSABLE_PASSWORDS = ["123456789012", "iloveyou2026", "aaaaaaaaaaaaaaaa"]


def register(client, password: str):
    return client.post(
        "/register",
        json={"username": "newcomer", "email": "ada.lovelace@example.com", "password": password},
    )


@pytest.mark.parametrize(("password", "problems"), WEAK.items())
def test_registration_names_each_problem(client, password, problems) -> None:
    response = register(client, password)

    assert response.status_code == 422
    assert response.get_json()["details"] == {"password": problems}


@pytest.mark.parametrize("password", GUESSABLE_PASSWORDS)
def test_a_guessable_password_is_refused_with_the_estimators_advice(client, password) -> None:
    response = register(client, password)

    assert response.status_code == 422
    (reason,) = response.get_json()["details"]["password"]
    assert reason.startswith(GUESSABLE + " ")
    assert len(reason) > len(GUESSABLE) + 10


def test_a_strong_password_is_accepted(client) -> None:
    response = register(client, STRONG)

    assert response.status_code == 201
    assert response.get_json()["username"] == "newcomer"


def test_an_admin_creating_an_account_meets_the_same_policy(client, admin, auth) -> None:
    body = {"username": "created", "email": "created@example.com", "password": "created-2026"}

    response = client.post("/users", json=body, headers=auth(admin))

    assert response.status_code == 422
    assert response.get_json()["details"] == {"password": [CONTAINS_USERNAME]}


def test_a_password_change_meets_the_policy_with_the_accounts_own_e_mail(
    client, make_user, auth
) -> None:
    account = make_user("changer", email="grace.hopper@example.com")

    response = client.put(
        "/users/me/password",
        json={"current_password": account.password, "new_password": "Grace.Hopper-77"},
        headers=auth(account),
    )

    assert response.status_code == 422
    assert response.get_json()["details"] == {"new_password": [CONTAINS_EMAIL]}


def test_a_reset_meets_the_policy(app, client, make_user) -> None:
    make_user("resetter", email="resetter@example.com")
    client.post("/password/forgot", json={"email": "resetter@example.com"})
    (message,) = app.extensions["mailman"].outbox
    token = re.search(r"<pre>(.+?)</pre>", message.body).group(1)

    weak = client.post("/password/reset", json={"token": token, "password": "password1234"})
    strong = client.post("/password/reset", json={"token": token, "password": STRONG})

    assert weak.status_code == 422
    assert weak.get_json()["details"] == {"password": [COMMON]}
    assert strong.status_code == 204
    assert strong.get_data() == b""


@pytest.mark.parametrize("seed", SEED_ACCOUNTS, ids=lambda seed: seed.username)
def test_the_development_seed_passwords_pass_the_policy(app, seed) -> None:
    with app.app_context():
        assert password_problems(seed.development_password, seed.username, seed.email) == []


def test_seeding_refuses_a_weak_configured_password(app, runner) -> None:
    app.config["SEED_ADMIN_PASSWORD"] = "admin-password-1"

    result = runner.invoke(args=["seed-db"])

    assert result.exit_code == 1
    assert f"SEED_ADMIN_PASSWORD is refused: {CONTAINS_USERNAME}" in result.output
    assert "admin-password-1" not in result.output


class RangeApi:
    """Have I Been Pwned's range API as the check sees it: the URL asked and the padded answer."""

    def __init__(self, breached: str | None = None, fail: bool = False) -> None:
        self.requests: list[urllib.request.Request] = []
        self.breached = breached
        self.fail = fail

    def __call__(self, request, timeout):
        self.requests.append(request)
        if self.fail:
            raise TimeoutError("timed out")
        lines = ["0018A45C4D1DEF81644B54AB7F969B88D65:0"]  # padding
        if self.breached:
            digest = hashlib.sha1(self.breached.encode()).hexdigest().upper()  # noqa: S324
            lines.append(f"{digest[5:]}:42")
        return io.BytesIO("\r\n".join(lines).encode())


@pytest.fixture
def range_api(app, monkeypatch):
    def install(**behaviour) -> RangeApi:
        app.config["PASSWORD_BREACH_CHECK"] = True
        api = RangeApi(**behaviour)
        monkeypatch.setattr(urllib.request, "urlopen", api)
        return api

    return install


def test_a_breached_password_is_refused_and_only_a_prefix_leaves(client, range_api) -> None:
    api = range_api(breached=STRONG)

    response = register(client, STRONG)

    assert response.status_code == 422
    assert response.get_json()["details"] == {"password": [BREACHED]}
    (request,) = api.requests
    prefix = hashlib.sha1(STRONG.encode()).hexdigest().upper()[:5]  # noqa: S324
    assert request.full_url == f"https://api.pwnedpasswords.com/range/{prefix}"
    assert request.get_header("Add-padding") == "true"


def test_a_password_the_range_api_does_not_know_is_accepted(client, range_api) -> None:
    api = range_api(breached="some-other-password")

    response = register(client, STRONG)

    assert response.status_code == 201
    assert len(api.requests) == 1


def test_an_unreachable_range_api_lets_the_password_through(client, range_api, caplog) -> None:
    range_api(fail=True)

    response = register(client, STRONG)

    assert response.status_code == 201
    assert "password breach check unavailable: TimeoutError" in caplog.text
    assert STRONG not in caplog.text


def test_the_breach_check_is_off_by_default(app, client, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("no request may leave while the check is off")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)

    response = register(client, STRONG)

    assert app.config["PASSWORD_BREACH_CHECK"] is False
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("rank", "password"), [(20_110, "41D8CD98F00B"), (29_910, "WeihnachtsBaum")]
)
def test_the_common_list_holds_at_least_20000_passwords(client, rank, password) -> None:
    """Passwords ranked past 20,000 in zxcvbn's list (the contract's minimum size), in another
    case, are refused as common: the list in force is at least that long."""
    assert FREQUENCY_LISTS["passwords"][rank] == password.casefold()

    response = register(client, password)

    assert response.status_code == 422
    assert response.get_json()["error"] == "validation_error"
    assert response.get_json()["details"]["password"] == [COMMON]
