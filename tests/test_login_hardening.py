"""Lockout per login name and client address, slowing under attack from many addresses, the
same answers for unknown names, and per-IP rate limits."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.accounts.attempts import SLOWDOWN_STEP, clear_failures, count_failure, login_name_of
from app.errors import ApiError
from app.extensions import db
from app.models import AuditEvent, LoginFailure, User
from app.models.columns import utcnow
from tests.support.database import wait_until_a_statement_waits_for_a_lock
from tests.support.mail import outbox
from tests.support.signin import login_response

ATTACKER = "203.0.113.66"
OWNER = "198.51.100.7"
REFUSED = {
    "error": "invalid_credentials",
    "message": "The username or password is incorrect.",
    "status": 401,
}
LOCKED_OUT = {
    "error": "rate_limited",
    "message": "Too many failed attempts from this address: try again later.",
    "status": 429,
}


def _fail(client, username: str, times: int, address: str = ATTACKER) -> list[int]:
    return [
        login_response(client, username, "wrong-password-x", address).status_code
        for _ in range(times)
    ]


def _answer(response) -> tuple:
    body = response.get_json()
    body.pop("request_id")
    return response.status_code, body


def test_five_failures_lock_that_address_out_even_against_the_right_password(
    app, client, member
) -> None:
    assert _fail(client, "member", 5) == [401] * 5

    response = login_response(client, "member", member.password, address=ATTACKER)

    assert response.status_code == 429
    assert response.get_json()["error"] == "rate_limited"
    assert 890 <= int(response.headers["Retry-After"]) <= 900
    with app.app_context():
        user = db.session.get(User, member.id)
        assert user.failed_login_count == 5
        assert user.locked_until is not None


def test_a_locked_out_address_is_told_why_and_when_to_try_again(client, member) -> None:
    assert _fail(client, "member", 5) == [401] * 5

    response = login_response(client, "member", member.password, address=ATTACKER)

    assert _answer(response) == (429, LOCKED_OUT)
    assert 890 <= int(response.headers["Retry-After"]) <= 900


def test_a_stranger_cannot_lock_the_owner_out(client, member) -> None:
    _fail(client, "member", 12)

    response = login_response(client, "member", member.password, address=OWNER)

    assert response.status_code == 200
    assert response.get_json()["token_type"] == "Bearer"


def test_an_unknown_name_is_locked_out_with_the_same_answers(client, member) -> None:
    known = [
        _answer(login_response(client, "member", "wrong-password-x", address=ATTACKER))
        for _ in range(6)
    ]
    unknown = [
        _answer(login_response(client, "nobody-here", "wrong-password-x", address=ATTACKER))
        for _ in range(6)
    ]

    assert [status for status, _ in known] == [401] * 5 + [429]
    assert known == unknown


def test_a_success_before_the_limit_resets_the_count(app, client, member) -> None:
    _fail(client, "member", 4)

    assert login_response(client, "member", member.password, address=ATTACKER).status_code == 200
    assert _fail(client, "member", 4) == [401] * 4
    assert login_response(client, "member", member.password, address=ATTACKER).status_code == 200
    with app.app_context():
        assert db.session.get(User, member.id).failed_login_count == 0
        assert db.session.scalars(db.select(LoginFailure)).all() == []


def _count_a_failure(app, user_id: int) -> str:
    """A wrong password for the account, counted in a request of its own: its answer's error."""
    with app.test_request_context(method="POST", environ_base={"REMOTE_ADDR": ATTACKER}):
        user = db.session.get(User, user_id)
        try:
            count_failure(login_name_of(user), user, ApiError(401, "invalid_credentials"))
        except ApiError as refusal:
            return refusal.error
        finally:
            db.session.remove()
    return "not refused"


def test_a_success_and_a_failure_at_once_both_finish(app, client, member) -> None:
    """A success from an address while a failure from it is being counted: the failure waits
    for the success and counts after it. (When the two locked the account's row and the
    address's in opposite orders, PostgreSQL found a deadlock and one of them answered 503.)"""
    assert _fail(client, "member", 2) == [401, 401]

    with app.test_request_context(method="POST", environ_base={"REMOTE_ADDR": ATTACKER}):
        clear_failures(db.session.get(User, member.id))
        with ThreadPoolExecutor(max_workers=1) as pool:
            failure = pool.submit(_count_a_failure, app, member.id)
            wait_until_a_statement_waits_for_a_lock(db.engine)
            db.session.commit()
            refused_with = failure.result(timeout=10)

    assert refused_with == "invalid_credentials"
    with app.app_context():
        assert db.session.get(User, member.id).failed_login_count == 1
        assert db.session.scalars(select(LoginFailure.failures)).all() == [1]


def _let_the_lock_lapse(app) -> None:
    with app.app_context():
        db.session.execute(
            update(LoginFailure).values(locked_until=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()


def _signed_in_and_cleared(app, response, user_id: int) -> User:
    """The account after ``response``, a sign-in that succeeded: its counters are cleared."""
    assert response.status_code == 200
    assert response.get_json()["token_type"] == "Bearer"
    with app.app_context():
        user = db.session.get(User, user_id)
    assert (user.failed_login_count, user.locked_until) == (0, None)
    return user


def test_the_lock_lapses_and_the_count_starts_afresh(app, client, member) -> None:
    assert _fail(client, "member", 5) == [401] * 5
    _let_the_lock_lapse(app)

    assert _fail(client, "member", 4) == [401] * 4
    response = login_response(client, "member", member.password, address=ATTACKER)

    user = _signed_in_and_cleared(app, response, member.id)
    assert user.last_login_at is not None


def test_a_count_gone_stale_starts_again_at_one(app, client, member) -> None:
    """Failures older than LOGIN_LOCKOUT no longer count: the next one from the address is its
    first again (the account's own count goes on), and four more do not reach the limit."""
    assert _fail(client, "member", 4) == [401] * 4
    with app.app_context():
        gone_stale = utcnow() - timedelta(seconds=app.config["LOGIN_LOCKOUT"] + 1)
        db.session.execute(update(LoginFailure).values(last_failed_at=gone_stale))
        db.session.commit()

    assert _fail(client, "member", 1) == [401]
    with app.app_context():
        row = db.session.scalars(select(LoginFailure)).one()
        assert (row.failures, row.locked_until) == (1, None)
        assert row.last_failed_at > gone_stale
        assert db.session.get(User, member.id).failed_login_count == 5
    assert _fail(client, "member", 3) == [401] * 3
    response = login_response(client, "member", member.password, address=ATTACKER)

    assert response.status_code == 200
    assert response.get_json()["token_type"] == "Bearer"


def test_a_failure_is_counted_on_the_account_and_moves_its_updated_at(app, client, member) -> None:
    with app.app_context():
        long_ago = utcnow() - timedelta(days=1)
        db.session.execute(
            update(User).where(User.user_id == member.id).values(updated_at=long_ago)
        )
        db.session.commit()

    response = login_response(client, "member", "wrong-password-x", address=ATTACKER)

    assert _answer(response) == (401, REFUSED)
    with app.app_context():
        user = db.session.get(User, member.id)
        row = db.session.scalars(select(LoginFailure)).one()
        assert (user.failed_login_count, user.locked_until) == (1, None)
        assert (row.login_name, row.address, row.failures, row.locked_until) == (
            "member",
            ATTACKER,
            1,
            None,
        )
        # One statement, one clock: the account moved when the failure was counted.
        assert user.updated_at == row.last_failed_at > long_ago


def _updated_long_ago(app, user_id: int):
    """Move the account's updated_at a day into the past; the time it now holds."""
    with app.app_context():
        long_ago = utcnow() - timedelta(days=1)
        db.session.execute(update(User).where(User.user_id == user_id).values(updated_at=long_ago))
        db.session.commit()
    return long_ago


def _reauthenticate(client, headers, password: str):
    return client.post(
        "/reauthenticate",
        json={"password": password},
        headers=headers,
        environ_base={"REMOTE_ADDR": ATTACKER},
    )


def test_a_sign_in_moves_the_accounts_last_login_and_updated_at(app, client, member) -> None:
    long_ago = _updated_long_ago(app, member.id)

    response = login_response(client, "member", member.password, address=ATTACKER)

    user = _signed_in_and_cleared(app, response, member.id)
    assert user.last_login_at > long_ago
    assert user.updated_at > long_ago


def test_a_success_after_a_failure_clears_the_count_and_moves_updated_at(
    app, client, member, auth
) -> None:
    """A success with nothing to write but the cleared count (a reauthentication) still moves
    the account's updated_at: its failed_login_count changed."""
    headers = auth(member)
    wrong = _reauthenticate(client, headers, "wrong-password-x")
    long_ago = _updated_long_ago(app, member.id)

    right = _reauthenticate(client, headers, member.password)

    assert _answer(wrong) == (
        401,
        {
            "error": "invalid_credentials",
            "message": "The password is incorrect.",
            "details": {"password": ["The password is incorrect."]},
            "status": 401,
        },
    )
    assert (right.status_code, right.get_data()) == (204, b"")
    with app.app_context():
        user = db.session.get(User, member.id)
        assert (user.failed_login_count, user.locked_until) == (0, None)
        assert user.updated_at > long_ago
        assert db.session.scalars(select(LoginFailure)).all() == []


def test_a_success_with_nothing_to_clear_leaves_updated_at_alone(app, client, member, auth) -> None:
    headers = auth(member)
    long_ago = _updated_long_ago(app, member.id)

    right = _reauthenticate(client, headers, member.password)

    assert (right.status_code, right.get_data()) == (204, b"")
    with app.app_context():
        user = db.session.get(User, member.id)
        assert (user.failed_login_count, user.locked_until) == (0, None)
        assert user.updated_at == long_ago


def test_a_success_clears_the_failures_of_its_own_name_only(app, client, member, make_user) -> None:
    """The member's sign-in from an address leaves that address's failures on another name
    counting: three more of them lock the address out of that name."""
    bystander = make_user("bystander")
    assert _fail(client, "bystander", 2) == [401, 401]

    signed_in = login_response(client, "member", member.password, address=ATTACKER)
    more = _fail(client, "bystander", 3)
    locked = login_response(client, "bystander", bystander.password, address=ATTACKER)

    assert signed_in.status_code == 200
    assert signed_in.get_json()["token_type"] == "Bearer"
    assert more == [401] * 3
    assert _answer(locked) == (429, LOCKED_OUT)
    with app.app_context():
        rows = db.session.scalars(select(LoginFailure)).all()
        assert [(row.login_name, row.address, row.failures) for row in rows] == [
            ("bystander", ATTACKER, 5)
        ]


@pytest.mark.parametrize("failures", [0, 2])
def test_after_a_success_the_request_holds_the_account_as_its_row_is(
    app, client, member, failures
) -> None:
    """The success writes the account's row in a statement of its own, not through the ORM:
    whatever the request does next, the account it holds reads what the row now holds, with
    something cleared (updated_at moved) or nothing (updated_at as it was)."""
    assert _fail(client, "member", failures) == [401] * failures
    columns = ("failed_login_count", "locked_until", "last_login_at", "updated_at")

    with app.test_request_context(method="POST", environ_base={"REMOTE_ADDR": ATTACKER}):
        user = db.session.get(User, member.id)
        clear_failures(user)
        row = db.session.execute(
            select(User.__table__).where(User.__table__.c.user_id == member.id)
        ).one()

        assert [getattr(user, name) for name in columns] == [getattr(row, name) for name in columns]
        assert row.failed_login_count == 0


def test_with_a_limit_of_one_the_first_failure_locks_the_address_out(app, client, member) -> None:
    app.config["LOGIN_MAX_FAILURES"] = 1

    failed = login_response(client, "member", "wrong-password-x", address=ATTACKER)
    right = login_response(client, "member", member.password, address=ATTACKER)
    unknown = [
        _answer(login_response(client, "nobody-here", "wrong-password-x", address=ATTACKER))
        for _ in range(2)
    ]
    owner = login_response(client, "member", member.password, address=OWNER)

    assert _answer(failed) == (401, REFUSED)
    assert _answer(right) == (429, LOCKED_OUT)
    assert 890 <= int(right.headers["Retry-After"]) <= 900
    assert [status for status, _ in unknown] == [401, 429]
    assert unknown[1] == _answer(right)
    assert owner.status_code == 200
    assert owner.get_json()["token_type"] == "Bearer"
    with app.app_context():
        row = db.session.get(LoginFailure, ("member", ATTACKER))
        assert row.failures == 1
        assert row.locked_until == row.last_failed_at + timedelta(
            seconds=app.config["LOGIN_LOCKOUT"]
        )
    [notice] = outbox(app)
    assert (notice.to, notice.subject) == (
        [member.email],
        "Sign-in attempts on your account were blocked",
    )
    assert notice.body == (
        "Hello member,\n\n"
        "After 1 wrong passwords or codes in a row from the address 203.0.113.66, that address "
        "may not sign in to your account for 15 minutes. Your password still works from "
        "anywhere else. If these attempts were not yours, choose a stronger password.\n\n"
        "Gatehouse"
    )


def test_lockout_of_one_name_leaves_others_alone(client, member, make_user) -> None:
    other = make_user("bystander")
    _fail(client, "member", 5)

    response = login_response(client, "bystander", other.password, address=ATTACKER)

    assert response.status_code == 200
    assert response.get_json()["token_type"] == "Bearer"


def test_lockout_settings_come_from_the_config(make_app, member) -> None:
    client = make_app(LOGIN_MAX_FAILURES=2, LOGIN_LOCKOUT=60).test_client()

    assert _fail(client, "member", 2) == [401, 401]
    response = login_response(client, "member", member.password, address=ATTACKER)

    assert response.status_code == 429
    assert response.get_json()["error"] == "rate_limited"
    assert 55 <= int(response.headers["Retry-After"]) <= 60


def test_failures_from_many_addresses_pace_the_failing_addresses(make_app, member) -> None:
    """Under attack from many addresses, an address that failed on the name waits (429 with
    Retry-After) before its next attempt; an address with no failure on it, the owner's, goes
    through at once. The server tells the paced address when to come back rather than holding
    its request (a held thread is one fewer to serve)."""
    client = make_app(LOGIN_SLOWDOWN_AFTER=4).test_client()
    for number in range(5):
        _fail(client, "member", 1, address=f"192.0.2.{number}")

    paced = login_response(client, "member", member.password, address="192.0.2.4")
    owner = login_response(client, "member", member.password, address=OWNER)

    assert paced.status_code == 429
    assert paced.get_json()["error"] == "rate_limited"
    # Five failures, one past the threshold: two steps after this address's last failure.
    assert 1 <= int(paced.headers["Retry-After"]) <= 2 * SLOWDOWN_STEP
    assert owner.status_code == 200
    assert owner.get_json()["token_type"] == "Bearer"


def test_a_paced_address_tries_again_once_its_wait_is_over(app, make_app, member) -> None:
    client = make_app(LOGIN_SLOWDOWN_AFTER=1).test_client()
    _fail(client, "member", 1, address="192.0.2.1")
    _fail(client, "member", 1, address="192.0.2.2")
    assert login_response(client, "member", member.password, address="192.0.2.2").status_code == 429
    with app.app_context():
        db.session.execute(
            update(LoginFailure).values(last_failed_at=utcnow() - timedelta(seconds=3))
        )
        db.session.commit()

    response = login_response(client, "member", member.password, address="192.0.2.2")

    assert response.status_code == 200
    assert response.get_json()["token_type"] == "Bearer"


def test_failures_reaching_the_threshold_pace_the_address_that_failed(app, client, member) -> None:
    """Pacing starts at LOGIN_SLOWDOWN_AFTER failures on the name, not past them: one step after
    the address's last failure. One failure short, an address that has just failed is answered
    at once."""
    app.config["LOGIN_SLOWDOWN_AFTER"] = 3
    failed = _fail(client, "member", 1, address="192.0.2.1")
    # The second of these comes with two failures on the name, one short: it is not paced.
    failed += _fail(client, "member", 2, address="192.0.2.2")

    paced = login_response(client, "member", member.password, address="192.0.2.2")
    owner = login_response(client, "member", member.password, address=OWNER)

    assert failed == [401] * 3
    assert _answer(paced) == (429, LOCKED_OUT)
    assert paced.headers["Retry-After"] == str(SLOWDOWN_STEP)
    assert owner.status_code == 200
    assert owner.get_json()["token_type"] == "Bearer"


def test_each_failure_past_the_threshold_adds_a_step_to_the_wait(app, client, member) -> None:
    app.config["LOGIN_SLOWDOWN_AFTER"] = 1
    for number in range(5):
        _fail(client, "member", 1, address=f"192.0.2.{number}")

    paced = login_response(client, "member", member.password, address="192.0.2.4")

    assert _answer(paced) == (429, LOCKED_OUT)
    # Five failures, four past the threshold: five steps after this address's last failure,
    # a moment ago.
    assert 4 * SLOWDOWN_STEP <= int(paced.headers["Retry-After"]) <= 5 * SLOWDOWN_STEP


def test_wrong_current_passwords_count_like_failed_logins(client, member, auth) -> None:
    def change(current: str):
        return client.put(
            "/users/me/password",
            json={"current_password": current, "new_password": "amber-quarry-signal"},
            headers=auth(member),
            environ_base={"REMOTE_ADDR": ATTACKER},
        )

    wrong = [change("wrong-password-x").status_code for _ in range(5)]
    right = change(member.password)
    login = login_response(client, "member", member.password, address=ATTACKER)

    assert wrong == [401] * 5
    assert right.status_code == 429
    assert right.get_json()["error"] == "rate_limited"
    assert login.status_code == 429


def test_wrong_current_passwords_that_lock_the_address_out_tell_the_owner(
    app, client, member, auth
) -> None:
    app.config["LOGIN_MAX_FAILURES"] = 2

    wrong = [
        client.put(
            "/users/me/password",
            json={"current_password": "wrong-password-x", "new_password": "amber-quarry-signal"},
            headers=auth(member),
            environ_base={"REMOTE_ADDR": ATTACKER},
        )
        for _ in range(2)
    ]

    assert [_answer(response)[0] for response in wrong] == [401, 401]
    assert wrong[1].get_json()["error"] == "invalid_credentials"
    with app.app_context():
        user = db.session.get(User, member.id)
        row = db.session.get(LoginFailure, ("member", ATTACKER))
        assert user.failed_login_count == 2
        assert user.locked_until == row.locked_until is not None
        [event] = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "user.locked")
        ).all()
        assert event.target_id == member.id
        assert event.changes["locked_until"][0] is None
    [notice] = outbox(app)
    assert (notice.to, notice.subject) == (
        [member.email],
        "Sign-in attempts on your account were blocked",
    )
    assert notice.body.startswith(
        "Hello member,\n\nAfter 2 wrong passwords or codes in a row from the address "
        "203.0.113.66, that address may not sign in to your account for 15 minutes."
    )


def test_lockout_notices_to_one_address_are_limited(make_app, member) -> None:
    """A stranger can lock the owner's address out of the account from one address after
    another: each lockout is a notice a stranger caused, and at most NOTICE_LIMIT reach the
    owner."""
    app = make_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_LOGIN="100 per minute",
        NOTICE_LIMIT="1 per hour",
        LOGIN_MAX_FAILURES=1,
    )
    client = app.test_client()

    failed = [
        _answer(login_response(client, "member", "wrong-password-x", address))
        for address in (ATTACKER, "192.0.2.9")
    ]
    locked = [
        login_response(client, "member", member.password, address).status_code
        for address in (ATTACKER, "192.0.2.9")
    ]

    assert failed == [(401, REFUSED)] * 2
    assert locked == [429, 429]
    assert [(notice.to, notice.subject) for notice in outbox(app)] == [
        ([member.email], "Sign-in attempts on your account were blocked")
    ]
    assert "from the address 203.0.113.66," in outbox(app)[0].body


def test_prune_tokens_deletes_failure_records_that_no_longer_count(app, client, runner) -> None:
    _fail(client, "stale-name", 1)
    _fail(client, "locked-name", 5)
    _fail(client, "fresh-name", 1)
    with app.app_context():
        long_ago = utcnow() - timedelta(hours=1)
        db.session.execute(
            update(LoginFailure)
            .where(LoginFailure.login_name != "fresh-name")
            .values(last_failed_at=long_ago)
        )
        db.session.commit()

    result = runner.invoke(args=["prune-tokens"])

    assert result.exit_code == 0
    assert "Pruned 1 failed-login record(s) that no longer count." in result.output
    with app.app_context():
        kept = db.session.scalars(db.select(LoginFailure.login_name)).all()
    assert sorted(kept) == ["fresh-name", "locked-name"]


def test_prune_tokens_deletes_failure_records_whose_lock_has_lapsed(app, client, runner) -> None:
    assert _fail(client, "lapsed-name", 5) == [401] * 5
    _fail(client, "fresh-name", 1)
    with app.app_context():
        long_ago = utcnow() - timedelta(hours=1)
        db.session.execute(
            update(LoginFailure)
            .where(LoginFailure.login_name == "lapsed-name")
            .values(last_failed_at=long_ago, locked_until=long_ago + timedelta(minutes=15))
        )
        db.session.commit()

    result = runner.invoke(args=["prune-tokens"])

    assert result.exit_code == 0
    assert "Pruned 1 failed-login record(s) that no longer count." in result.output
    with app.app_context():
        kept = db.session.scalars(db.select(LoginFailure.login_name)).all()
    assert kept == ["fresh-name"]


@pytest.mark.parametrize(
    ("path", "body", "setting"),
    [
        ("/login", {"username": "nobody", "password": "whatever-password"}, "RATELIMIT_LOGIN"),
        (
            "/register",
            {"username": "x", "email": "bad", "password": "short"},
            "RATELIMIT_REGISTER",
        ),
        ("/password/forgot", {"email": "nobody@example.com"}, "RATELIMIT_PASSWORD_FORGOT"),
    ],
)
def test_per_ip_limit_answers_429_with_retry_after(make_app, path, body, setting) -> None:
    client = make_app(RATELIMIT_ENABLED=True, **{setting: "3 per minute"}).test_client()
    # What the request answers while the limit is not reached (its body is wrong or unknown).
    answered = {
        "/login": (401, "invalid_credentials"),
        "/register": (422, "validation_error"),
        "/password/forgot": (202, None),
    }[path]

    responses = [client.post(path, json=body) for _ in range(5)]

    for response in responses[:3]:
        assert (response.status_code, response.get_json().get("error")) == answered
    for limited in responses[3:]:
        assert limited.status_code == 429
        assert limited.get_json()["error"] == "rate_limited"
        assert 0 < int(limited.headers["Retry-After"]) <= 60


def test_per_ip_limits_count_each_address_separately(make_app) -> None:
    client = make_app(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="2 per minute").test_client()
    body = {"username": "nobody", "password": "whatever-password"}

    first = [
        client.post("/login", json=body, environ_base={"REMOTE_ADDR": "10.0.0.1"}) for _ in range(3)
    ]
    second = client.post("/login", json=body, environ_base={"REMOTE_ADDR": "10.0.0.2"})

    assert [(response.status_code, response.get_json()["error"]) for response in first] == [
        (401, "invalid_credentials"),
        (401, "invalid_credentials"),
        (429, "rate_limited"),
    ]
    assert (second.status_code, second.get_json()["error"]) == (401, "invalid_credentials")


def test_behind_a_trusted_proxy_the_forwarded_address_is_limited(make_app) -> None:
    client = make_app(
        RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="1 per minute", TRUSTED_PROXY_HOPS=1
    ).test_client()
    body = {"username": "nobody", "password": "whatever-password"}

    def attempt(forwarded_for: str) -> tuple[int, str]:
        response = client.post("/login", json=body, headers={"X-Forwarded-For": forwarded_for})
        return response.status_code, response.get_json()["error"]

    assert [attempt("203.0.113.7"), attempt("203.0.113.7"), attempt("203.0.113.8")] == [
        (401, "invalid_credentials"),
        (429, "rate_limited"),
        (401, "invalid_credentials"),
    ]
