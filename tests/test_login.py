"""POST /login: credentials in, token out; failures say nothing about which part was wrong."""

import concurrent.futures.thread
import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import argon2.low_level
import pytest
from passlib.hash import argon2 as passlib_argon2
from sqlalchemy import select, update

from app.extensions import db, guard
from app.models import LoginFailure, Ticket, User, UserSession
from app.models.columns import utcnow
from app.tokens import tickets
from app.tokens.opaque import digest
from tests.support.errors import without_request_id
from tests.support.signin import bearer, login
from tests.support.totp import enrol


def test_login_returns_a_bearer_token_that_opens_protected_routes(client, member) -> None:
    response = client.post("/login", json={"username": "member", "password": member.password})

    assert response.status_code == 200
    body = response.get_json()
    # (The whole answer, refresh token included: tests/test_sessions.py.)
    assert body["token_type"] == "Bearer"
    me = client.get("/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.get_json()["username"] == "member"


def test_login_ignores_the_case_of_the_username(client, make_user) -> None:
    account = make_user("MixedCase")

    response = client.post("/login", json={"username": "mixedcase", "password": account.password})

    assert response.status_code == 200
    assert response.get_json()["token_type"] == "Bearer"


def test_login_records_the_time_of_the_last_login(app, client, member) -> None:
    client.post("/login", json={"username": "member", "password": member.password})

    with app.app_context():
        assert db.session.get(User, member.id).last_login_at is not None
    me = client.get("/users/me", headers=bearer(login(client, member)["access_token"]))
    assert me.get_json()["last_login_at"].endswith("+00:00")


def test_a_password_login_records_its_session_as_signed_in_by_password(app, client, member) -> None:
    signed_in = client.post("/login", json={"username": "member", "password": member.password})

    assert signed_in.status_code == 200
    assert signed_in.get_json()["token_type"] == "Bearer"
    with app.app_context():
        assert db.session.scalars(select(UserSession.method)).all() == ["password"]


@pytest.mark.parametrize(
    ("username", "password"),
    [("member", "wrong-password-123"), ("nobody", "wrong-password-123"), ("nobody", "x")],
)
def test_unknown_user_and_wrong_password_get_the_same_answer(
    client, member, username, password
) -> None:
    response = client.post("/login", json={"username": username, "password": password})

    assert response.status_code == 401
    body = response.get_json()
    assert body["error"] == "invalid_credentials"
    assert body["message"] == "The username or password is incorrect."
    assert set(body) == {"error", "message", "status", "request_id"}


@pytest.mark.parametrize("username", ["member", "nobody"])
def test_every_failed_login_costs_exactly_one_argon2_verification(
    client, member, monkeypatch, username
) -> None:
    """Unknown usernames are hashed too, so response time does not reveal which exist."""
    calls = []
    real_verify = argon2.low_level.verify_secret

    def counting_verify(*args, **kwargs):
        calls.append(1)
        return real_verify(*args, **kwargs)

    monkeypatch.setattr(argon2.low_level, "verify_secret", counting_verify)

    response = client.post("/login", json={"username": username, "password": "not-the-password"})

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_credentials"
    assert len(calls) == 1


def test_the_first_unknown_user_login_of_a_new_app_makes_no_hash(make_app, monkeypatch) -> None:
    """The hash an unknown user's password is checked against exists before the first such
    login: made then, it would make that login cost two argon2 runs (a timing tell)."""
    client = make_app().test_client()
    calls = []
    real_hash, real_verify = argon2.low_level.hash_secret, argon2.low_level.verify_secret
    monkeypatch.setattr(
        argon2.low_level, "hash_secret", lambda *a, **k: calls.append("hash") or real_hash(*a, **k)
    )
    monkeypatch.setattr(
        argon2.low_level,
        "verify_secret",
        lambda *a, **k: calls.append("verify") or real_verify(*a, **k),
    )

    response = client.post("/login", json={"username": "nobody", "password": "not-the-password"})

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_credentials"
    assert calls == ["verify"]


def test_passwords_are_hashed_and_verified_on_one_thread_of_the_process(
    make_app, member, monkeypatch
) -> None:
    """Logins served at once by several threads, and a new password's hash, run on one hashing
    thread: a thread that hashes keeps argon2id's 7 MiB buffer, so one thread keeps one
    (app/guard.py)."""
    # (An app of its own: the guard is every app's, and hashes as the last one built says; an
    # earlier test may have built one without the hashing thread.)
    app = make_app()
    ran_on = []
    real_verify, real_hash = argon2.low_level.verify_secret, argon2.low_level.hash_secret

    def on_this_thread(call):
        def recording(*args, **kwargs):
            thread = threading.current_thread()
            ran_on.append((call.__name__, thread.name, thread.ident))
            return call(*args, **kwargs)

        return recording

    monkeypatch.setattr(argon2.low_level, "verify_secret", on_this_thread(real_verify))
    monkeypatch.setattr(argon2.low_level, "hash_secret", on_this_thread(real_hash))
    start = threading.Barrier(3)
    answers = []

    def log_in() -> None:
        client = app.test_client()
        start.wait()
        answers.append(
            client.post("/login", json={"username": "member", "password": member.password})
        )

    threads = [threading.Thread(target=log_in, name=f"request-{n}") for n in range(3)]
    threads.append(threading.Thread(target=guard.hash_password, args=("new-password",)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert {answer.get_json()["token_type"] for answer in answers} == {"Bearer"}
    assert sorted(call for call, _, _ in ran_on) == ["hash_secret", *["verify_secret"] * 3]
    assert len({(name, ident) for _, name, ident in ran_on}) == 1
    assert ran_on[0][1].startswith("password-hashing")


def _verify_in_this_process(password: str, stored: str) -> tuple[bool, str]:
    # (The hashing thread's name is taken from a verification made on it.)
    names = []
    real_verify = argon2.low_level.verify_secret
    argon2.low_level.verify_secret = lambda *a, **k: (
        names.append(threading.current_thread().name) or real_verify(*a, **k)
    )
    try:
        return guard.pwd_ctx.verify(password, stored), names[0]
    finally:
        argon2.low_level.verify_secret = real_verify


def test_a_forked_process_hashes_on_a_thread_of_its_own(make_app) -> None:
    """gunicorn's master builds the app, and hashes, before it forks the workers; a thread does
    not survive a fork, so a worker must start its own hashing thread (not wait for the
    master's forever)."""
    app = make_app()  # (its own: see the test above)
    with app.app_context():
        stored = guard.hash_password("a forked worker's password")
        assert guard.pwd_ctx.verify("a forked worker's password", stored)

    with multiprocessing.get_context("fork").Pool(1) as worker:
        answer = worker.apply_async(
            _verify_in_this_process, ("a forked worker's password", stored)
        ).get(timeout=60)
        refused = worker.apply_async(_verify_in_this_process, ("another password", stored)).get(
            timeout=60
        )

    assert answer[0] is True
    assert refused[0] is False
    assert answer[1].startswith("password-hashing")


def test_an_exiting_process_still_verifies_a_password(make_app, monkeypatch) -> None:
    """A worker told to quit at once (SIGINT, SIGQUIT) exits with requests in flight, and an
    exiting interpreter's executors take no more work: those requests verify on their own
    thread, as they did before the hashing thread, instead of failing with a 500."""
    make_app()
    stored = guard.pwd_ctx.hash("a password")
    monkeypatch.setattr(concurrent.futures.thread, "_shutdown", True)
    with pytest.raises(RuntimeError):  # (what every executor answers once the exit began)
        ThreadPoolExecutor(1).submit(int)

    assert guard.pwd_ctx.verify("a password", stored) is True
    assert guard.pwd_ctx.verify("another password", stored) is False


def test_disabled_account_cannot_log_in_even_with_the_right_password(client, make_user) -> None:
    account = make_user("sleeper", is_active=False)

    response = client.post("/login", json={"username": "sleeper", "password": account.password})

    assert response.status_code == 403
    assert response.get_json()["error"] == "account_disabled"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": "whatever-password"}, "username"),
        ({"username": "member"}, "password"),
        ({"username": "member", "password": "long-enough-pw", "roles": ["admin"]}, "roles"),
        ({"username": 5, "password": "long-enough-pw"}, "username"),
    ],
)
def test_login_body_is_validated_field_by_field(client, body, field) -> None:
    response = client.post("/login", json=body)

    assert response.status_code == 422
    payload = response.get_json()
    assert payload["error"] == "validation_error"
    assert field in payload["details"]


def test_new_passwords_are_hashed_with_argon2id_at_owasp_minimum_or_above(app, member) -> None:
    with app.app_context():
        stored = db.session.get(User, member.id).password

    assert stored.startswith("$argon2id$")
    params = {
        key: int(value) for key, value in (p.split("=") for p in stored.split("$")[3].split(","))
    }
    # OWASP's settings of equal strength: (memory in KiB, passes), one lane.
    owasp_minimums = [(46 * 1024, 1), (19 * 1024, 2), (12 * 1024, 3), (9 * 1024, 4), (7 * 1024, 5)]
    assert params["p"] == 1
    assert any(params["m"] >= m and params["t"] >= t for m, t in owasp_minimums)


def test_legacy_pbkdf2_hash_logs_in_and_is_replaced_by_argon2id(app, client, veteran) -> None:
    account, legacy_hash = veteran

    response = client.post("/login", json={"username": "veteran", "password": account.password})

    assert response.status_code == 200
    assert response.get_json()["token_type"] == "Bearer"
    with app.app_context():
        upgraded = db.session.get(User, account.id).password
    assert upgraded.startswith("$argon2id$")
    assert upgraded != legacy_hash
    again = client.post("/login", json={"username": "veteran", "password": account.password})
    assert again.status_code == 200


def test_an_argon2id_hash_with_other_parameters_is_rehashed_with_the_configured_ones(
    app, client, make_user
) -> None:
    """Hashes made before a change of ``ARGON2_*`` (e.g. 19 MiB x 2) keep working and move to
    the configured parameters on their next login."""
    account = make_user("elder")
    older_hash = passlib_argon2.using(type="ID", memory_cost=19 * 1024, rounds=2).hash(
        account.password
    )
    with app.app_context():
        db.session.get(User, account.id).password = older_hash
        db.session.commit()

    response = client.post("/login", json={"username": "elder", "password": account.password})

    assert response.status_code == 200
    assert response.get_json()["token_type"] == "Bearer"
    with app.app_context():
        rehashed = db.session.get(User, account.id).password
    config = app.config
    expected = (
        f"$argon2id$v=19$m={config['ARGON2_MEMORY_COST_KIB']},t={config['ARGON2_TIME_COST']},"
        f"p={config['ARGON2_PARALLELISM']}$"
    )
    assert rehashed.startswith(expected)
    assert (
        client.post("/login", json={"username": "elder", "password": account.password}).status_code
        == 200
    )


def test_legacy_hash_with_a_wrong_password_is_refused_and_kept(app, client, veteran) -> None:
    account, legacy_hash = veteran

    response = client.post("/login", json={"username": "veteran", "password": "wrong-password!"})

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_credentials"
    with app.app_context():
        assert db.session.get(User, account.id).password == legacy_hash


def test_a_login_writes_its_bookkeeping(app, client, member, admin, auth) -> None:
    """What a login leaves behind: the account's failures (its count and this address's)
    cleared, the last login time, and a new session with a working refresh token. (How many
    statements it takes is the benchmark's to measure, not this test's to pin.)"""
    failed = [
        client.post("/login", json={"username": "member", "password": "wrong-password-x"})
        for _ in range(2)
    ]
    with app.app_context():
        assert db.session.scalars(select(LoginFailure.failures)).all() == [2]

    response = client.post("/login", json={"username": "member", "password": member.password})

    assert [answer.status_code for answer in failed] == [401, 401]
    assert response.status_code == 200
    tokens = response.get_json()
    assert tokens["token_type"] == "Bearer"
    seen_by_admin = client.get(f"/users/{member.id}", headers=auth(admin)).get_json()
    assert seen_by_admin["failed_login_count"] == 0
    assert seen_by_admin["locked_until"] is None
    assert seen_by_admin["last_login_at"] is not None
    with app.app_context():
        assert db.session.scalars(select(LoginFailure.failures)).all() == []
    sessions = client.get("/users/me/sessions", headers=bearer(tokens["access_token"]))
    assert sessions.status_code == 200
    assert [session["current"] for session in sessions.get_json()["items"]] == [True]
    refreshed = client.post("/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert (refreshed.status_code, refreshed.get_json()["token_type"]) == (200, "Bearer")


@pytest.mark.parametrize(
    ("path", "kind", "other_kind", "body"),
    [
        ("/login/mfa", tickets.MFA, tickets.ENROLMENT, {"code": "123456"}),
        ("/login/mfa/enroll", tickets.ENROLMENT, tickets.MFA, {}),
    ],
)
def test_a_later_step_of_a_login_with_a_foreign_or_expired_ticket_says_which_and_what_to_do(
    app, client, member, path, kind, other_kind, body
) -> None:
    with app.app_context():
        user = db.session.get(User, member.id)
        foreign = tickets.issue(other_kind, 300, user, token_version=user.token_version)
        late = tickets.issue(kind, 300, user, token_version=user.token_version)
        db.session.execute(
            update(Ticket)
            .where(Ticket.digest == digest(late))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    field = "mfa_token" if kind == tickets.MFA else "enrollment_token"

    refused = client.post(path, json={field: foreign, **body})
    expired = client.post(path, json={field: late, **body})

    assert refused.status_code == 401
    assert without_request_id(refused.get_json()) == {
        "error": "invalid_token",
        "message": "The token is not valid here (or used already).",
        "status": 401,
    }
    assert expired.status_code == 401
    assert without_request_id(expired.get_json()) == {
        "error": "token_expired",
        "message": "The token has expired: sign in again.",
        "status": 401,
    }


@pytest.mark.parametrize(
    ("path", "kind", "body"),
    [("/login/mfa", tickets.MFA, {"code": "123456"}), ("/login/mfa/enroll", tickets.ENROLMENT, {})],
)
def test_a_later_step_of_a_login_with_a_ticket_from_before_a_password_change_says_revoked(
    app, client, member, auth, path, kind, body
) -> None:
    with app.app_context():
        user = db.session.get(User, member.id)
        ticket = tickets.issue(kind, 300, user, token_version=user.token_version)
        db.session.commit()
    changed = client.put(
        "/users/me/password",
        json={"current_password": member.password, "new_password": "a-brand-new-passphrase"},
        headers=auth(member),
    )
    field = "mfa_token" if kind == tickets.MFA else "enrollment_token"

    refused = client.post(path, json={field: ticket, **body})

    assert changed.status_code == 200
    assert refused.status_code == 401
    assert without_request_id(refused.get_json()) == {
        "error": "token_revoked",
        "message": "The token was revoked: sign in again.",
        "status": 401,
    }


def test_a_wrong_recovery_code_at_the_second_step_names_its_field_and_the_code(
    client, member, auth
) -> None:
    authenticator = enrol(client, auth(member))
    confirmed = client.post(
        "/users/me/mfa/totp/confirm", json={"code": authenticator.code()}, headers=auth(member)
    )
    token = login(client, member)["mfa_token"]

    refused = client.post("/login/mfa", json={"mfa_token": token, "recovery_code": "abcd-efgh"})

    assert confirmed.status_code == 200
    assert refused.status_code == 401
    assert without_request_id(refused.get_json()) == {
        "error": "invalid_credentials",
        "message": "The code is incorrect.",
        "status": 401,
        "details": {"recovery_code": ["The code is incorrect."]},
    }
