"""Per-account lockout after repeated failures, and per-IP rate limits."""

from datetime import timedelta

import pytest

from app.extensions import db
from app.models import User
from app.models.columns import utcnow


def _login(client, username: str, password: str):
    return client.post("/login", json={"username": username, "password": password})


def _fail(client, username: str, times: int) -> list[int]:
    return [_login(client, username, "wrong-password-x").status_code for _ in range(times)]


def test_five_failures_lock_the_account_even_against_the_right_password(
    app, client, member
) -> None:
    assert _fail(client, "member", 4) == [401] * 4
    assert _fail(client, "member", 1) == [401]

    response = _login(client, "member", member.password)

    assert response.status_code == 429
    assert response.get_json()["error"] == "rate_limited"
    retry_after = int(response.headers["Retry-After"])
    assert 890 <= retry_after <= 900
    with app.app_context():
        user = db.session.get(User, member.id)
        assert user.failed_login_count == 5
        assert user.locked_until is not None


def test_a_success_before_the_limit_resets_the_count(app, client, member) -> None:
    _fail(client, "member", 4)

    assert _login(client, "member", member.password).status_code == 200
    assert _fail(client, "member", 4) == [401] * 4
    assert _login(client, "member", member.password).status_code == 200
    with app.app_context():
        assert db.session.get(User, member.id).failed_login_count == 0


def _lock_then_let_the_lock_lapse(app, client, member) -> None:
    assert _fail(client, "member", 5) == [401] * 5
    with app.app_context():
        user = db.session.get(User, member.id)
        user.locked_until = utcnow() - timedelta(seconds=1)
        db.session.commit()


def _counters(app, member) -> tuple:
    with app.app_context():
        user = db.session.get(User, member.id)
        return user.failed_login_count, user.locked_until


def test_the_lock_lapses_and_the_count_starts_afresh(app, client, member) -> None:
    _lock_then_let_the_lock_lapse(app, client, member)

    assert _fail(client, "member", 1) == [401]
    assert _counters(app, member) == (1, None)
    response = _login(client, "member", member.password)

    assert response.status_code == 200
    assert response.get_json()["token_type"] == "Bearer"
    assert _counters(app, member) == (0, None)


def test_a_lapsed_lock_is_cleared_by_the_right_password(app, client, member) -> None:
    _lock_then_let_the_lock_lapse(app, client, member)

    response = _login(client, "member", member.password)

    assert response.status_code == 200
    assert response.get_json()["token_type"] == "Bearer"
    with app.app_context():
        user = db.session.get(User, member.id)
        assert (user.failed_login_count, user.locked_until) == (0, None)
        assert user.last_login_at is not None


def test_lockout_of_one_account_leaves_others_alone(client, member, make_user) -> None:
    other = make_user("bystander")
    _fail(client, "member", 5)

    response = _login(client, "bystander", other.password)

    assert response.status_code == 200
    assert response.get_json()["token_type"] == "Bearer"


def test_lockout_settings_come_from_the_config(make_app, member) -> None:
    client = make_app(LOGIN_MAX_FAILURES=2, LOGIN_LOCKOUT=60).test_client()

    assert _fail(client, "member", 2) == [401, 401]
    response = _login(client, "member", member.password)

    assert response.status_code == 429
    assert 55 <= int(response.headers["Retry-After"]) <= 60


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

    statuses = [client.post(path, json=body).status_code for _ in range(4)]

    assert 429 not in statuses[:3]
    assert statuses[3] == 429
    limited = client.post(path, json=body)
    assert limited.get_json()["error"] == "rate_limited"
    assert 0 < int(limited.headers["Retry-After"]) <= 60


def test_per_ip_limits_count_each_address_separately(make_app) -> None:
    client = make_app(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="2 per minute").test_client()
    body = {"username": "nobody", "password": "whatever-password"}

    first = [
        client.post("/login", json=body, environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code
        for _ in range(3)
    ]
    second = client.post("/login", json=body, environ_base={"REMOTE_ADDR": "10.0.0.2"})

    assert first == [401, 401, 429]
    assert second.status_code == 401


def test_behind_a_trusted_proxy_the_forwarded_address_is_limited(make_app) -> None:
    client = make_app(
        RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="1 per minute", TRUSTED_PROXY_HOPS=1
    ).test_client()
    body = {"username": "nobody", "password": "whatever-password"}

    def attempt(forwarded_for: str) -> int:
        return client.post(
            "/login", json=body, headers={"X-Forwarded-For": forwarded_for}
        ).status_code

    assert [attempt("203.0.113.7"), attempt("203.0.113.7"), attempt("203.0.113.8")] == [
        401,
        429,
        401,
    ]
