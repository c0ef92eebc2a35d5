"""Sessions: a login starts one, /refresh rotates its refresh token (a reuse ends it), logout and
the session routes end them, and an ended session's tokens are refused on the next request."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from app.extensions import db
from app.models import AuditEvent, RefreshToken, UserSession
from app.models.columns import utcnow
from app.tokens.opaque import digest as hash_token
from tests.support.database import wait_until_a_statement_waits_for_a_lock
from tests.support.mail import outbox
from tests.support.signin import bearer
from tests.support.signin import login as sign_in


@pytest.fixture
def login(client):
    """``login(account, **headers)`` -> the body of a real /login (a new session)."""
    return lambda account, **headers: sign_in(client, account, **headers)


def _refresh(client, refresh_token: str):
    return client.post("/refresh", json={"refresh_token": refresh_token})


def _assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"] == code


def test_login_answers_an_access_and_a_refresh_token(app, member, login) -> None:
    body = login(member)

    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
    }
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert 7 * 24 * 3600 - 2 <= body["refresh_expires_in"] <= 7 * 24 * 3600
    assert len(body["refresh_token"]) >= 43  # 256 random bits
    with app.app_context():
        stored = db.session.scalars(select(RefreshToken.token_hash)).all()
    # Only a hash of the refresh token is kept.
    assert body["refresh_token"] not in stored
    assert len(stored) == 1


def test_refresh_rotates_at_any_time_and_the_old_token_retires(client, member, login) -> None:
    first = login(member)

    refreshed = _refresh(client, first["refresh_token"])

    assert refreshed.status_code == 200
    second = refreshed.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert client.get("/users/me", headers=bearer(second["access_token"])).status_code == 200
    # The old access token still works until it expires: same session.
    assert client.get("/users/me", headers=bearer(first["access_token"])).status_code == 200
    third = _refresh(client, second["refresh_token"])
    assert third.status_code == 200


def test_a_retry_of_the_previous_token_within_the_grace_is_answered(
    app, client, member, login
) -> None:
    first = login(member)
    second = _refresh(client, first["refresh_token"]).get_json()

    retry = _refresh(client, first["refresh_token"])

    assert retry.status_code == 200
    latest = retry.get_json()
    # Never two live tokens: the retry retired the one the first answer gave.
    _assert_error(_refresh(client, second["refresh_token"]), 401, "token_revoked")
    assert client.get("/users/me", headers=bearer(latest["access_token"])).status_code == 401


def test_a_reuse_after_the_grace_ends_the_session_audits_and_tells_the_user(
    app, client, member, login
) -> None:
    first = login(member)
    second = _refresh(client, first["refresh_token"]).get_json()
    with app.app_context():
        # The first token was retired longer ago than the grace.
        db.session.execute(
            update(RefreshToken)
            .where(RefreshToken.used_at.is_not(None))
            .values(used_at=utcnow() - timedelta(seconds=11))
        )
        db.session.commit()

    reused = _refresh(client, first["refresh_token"])

    _assert_error(reused, 401, "token_revoked")
    # The whole session ended: the thief's and the owner's tokens alike.
    _assert_error(_refresh(client, second["refresh_token"]), 401, "token_revoked")
    _assert_error(
        client.get("/users/me", headers=bearer(second["access_token"])), 401, "token_revoked"
    )
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert event.action == "session.reuse_detected"
        assert event.target_id == member.id
    [notice] = outbox(app)
    assert notice.to == [member.email]
    assert second["refresh_token"] not in notice.body
    assert first["refresh_token"] not in notice.body


@pytest.mark.parametrize("token", ["x", "not-a-token-of-ours-" + "x" * 30])
def test_an_unknown_refresh_token_is_401_invalid_token(client, token) -> None:
    _assert_error(_refresh(client, token), 401, "invalid_token")


def test_an_empty_refresh_token_is_a_validation_error(client) -> None:
    response = _refresh(client, "")

    _assert_error(response, 422, "validation_error")
    assert "refresh_token" in response.get_json()["details"]


def test_refresh_needs_the_token_in_the_body(client, member, login) -> None:
    access = login(member)["access_token"]
    _assert_error(client.post("/refresh", headers=bearer(access)), 422, "validation_error")


@pytest.mark.parametrize("column", ["expires_at", "idle_expires_at"])
def test_an_expired_session_is_401_token_expired(app, client, member, login, column) -> None:
    body = login(member)
    with app.app_context():
        db.session.execute(update(UserSession).values({column: utcnow() - timedelta(seconds=1)}))
        db.session.commit()

    _assert_error(_refresh(client, body["refresh_token"]), 401, "token_expired")
    _assert_error(
        client.get("/users/me", headers=bearer(body["access_token"])), 401, "token_expired"
    )


def test_refresh_resets_the_idle_expiry_not_the_absolute_one(app, client, member, login) -> None:
    body = login(member)
    with app.app_context():
        db.session.execute(
            update(UserSession).values(
                idle_expires_at=utcnow() + timedelta(seconds=30),
                expires_at=utcnow() + timedelta(seconds=60),
            )
        )
        db.session.commit()

    response = _refresh(client, body["refresh_token"])
    refreshed = response.get_json()

    assert response.status_code == 200
    # Capped by the absolute expiry, and so is the access token.
    assert 55 <= refreshed["refresh_expires_in"] <= 60
    assert 55 <= refreshed["expires_in"] <= 60


def test_logout_ends_that_session_only(client, member, admin, login) -> None:
    first, second, admins = login(member), login(member), login(admin)

    response = client.post("/logout", headers=bearer(first["access_token"]))

    assert response.status_code == 204
    assert response.get_data() == b""
    _assert_error(
        client.get("/users/me", headers=bearer(first["access_token"])), 401, "token_revoked"
    )
    _assert_error(_refresh(client, first["refresh_token"]), 401, "token_revoked")
    assert client.get("/users/me", headers=bearer(second["access_token"])).status_code == 200
    assert client.get("/users/me", headers=bearer(admins["access_token"])).status_code == 200


def test_logout_needs_a_live_token(client, member, login) -> None:
    _assert_error(client.post("/logout"), 401, "missing_token")
    body = login(member)
    client.post("/logout", headers=bearer(body["access_token"]))
    _assert_error(
        client.post("/logout", headers=bearer(body["access_token"])), 401, "token_revoked"
    )


def test_past_sessions_per_user_a_login_ends_the_least_recently_used(make_app, member) -> None:
    app = make_app(SESSIONS_PER_USER=2)
    client = app.test_client()

    def sign_in():
        response = client.post(
            "/login", json={"username": member.username, "password": member.password}
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    oldest, middle = sign_in(), sign_in()
    refreshed = client.post("/refresh", json={"refresh_token": oldest["refresh_token"]})
    assert refreshed.status_code == 200
    # oldest was used last now: middle is the least recently used.
    newest = sign_in()

    _assert_error(
        client.get("/users/me", headers=bearer(middle["access_token"])), 401, "token_revoked"
    )
    _assert_error(_refresh(client, middle["refresh_token"]), 401, "token_revoked")
    # Only that one ended: the cap is not met by ending every session.
    for survivor in (refreshed.get_json(), newest):
        me = client.get("/users/me", headers=bearer(survivor["access_token"]))
        assert me.status_code == 200
        assert me.get_json()["username"] == member.username
    listed = client.get("/users/me/sessions", headers=bearer(newest["access_token"]))
    assert listed.status_code == 200
    assert listed.get_json()["_meta"]["total_items"] == 2


def test_a_login_holds_the_accounts_row_before_it_touches_a_session(app, client, member) -> None:
    """The session cap counts live sessions only once the login holds the account's row: while
    another transaction holds that row, a login waits at its UPDATE of the account, holding no
    lock on sessions, and signs in once the row is free. (So two logins of one account count
    one after the other: tests/test_concurrency.py.)"""
    with app.app_context():
        engine = db.engine
    holder = engine.connect()
    holder.execute(
        text("SELECT user_id FROM users WHERE user_id = :id FOR NO KEY UPDATE"), {"id": member.id}
    )
    with ThreadPoolExecutor(max_workers=1) as pool:
        login = pool.submit(
            client.post, "/login", json={"username": member.username, "password": member.password}
        )
        try:
            wait_until_a_statement_waits_for_a_lock(engine)
            with engine.connect() as observer:
                waiting = observer.execute(
                    text(
                        "SELECT pid, query FROM pg_stat_activity"
                        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                ).one()
                on_sessions = observer.execute(
                    text(
                        "SELECT count(*) FROM pg_locks"
                        " WHERE pid = :pid AND relation = 'sessions'::regclass"
                    ),
                    {"pid": waiting.pid},
                ).scalar_one()
            assert not login.done()
        finally:
            # (released whatever happened: the login waits for it)
            holder.rollback()
            holder.close()
        response = login.result(timeout=10)

    assert waiting.query.startswith("UPDATE users SET")
    assert on_sessions == 0
    assert response.status_code == 200
    me = client.get("/users/me", headers=bearer(response.get_json()["access_token"]))
    assert me.status_code == 200
    assert me.get_json()["username"] == member.username


def test_my_sessions_list_marks_the_current_one(client, member, login) -> None:
    first = login(member, **{"User-Agent": "phone"})
    login(member, **{"User-Agent": "laptop"})

    response = client.get("/users/me/sessions", headers=bearer(first["access_token"]))

    assert response.status_code == 200
    body = response.get_json()
    assert body["_meta"]["total_items"] == 2
    items = body["items"]
    assert {item["user_agent"] for item in items} == {"phone", "laptop"}
    assert [item["current"] for item in items if item["user_agent"] == "phone"] == [True]
    assert set(items[0]) == {
        "id",
        "created_at",
        "last_used_at",
        "expires_at",
        "user_agent",
        "ip_address",
        "current",
    }
    assert items[0]["ip_address"] == "127.0.0.1"


def _current_session_id(client, tokens: dict) -> int:
    listed = client.get("/users/me/sessions", headers=bearer(tokens["access_token"]))
    return next(item["id"] for item in listed.get_json()["items"] if item["current"])


def test_i_can_end_one_session_or_all_the_others(client, member, make_user, login) -> None:
    me, phone, laptop = login(member), login(member), login(member)
    stranger = login(make_user("stranger"))
    headers = bearer(me["access_token"])
    phone_id = _current_session_id(client, phone)
    strangers_id = _current_session_id(client, stranger)

    _assert_error(
        client.delete(f"/users/me/sessions/{strangers_id}", headers=headers), 404, "not_found"
    )
    assert client.delete(f"/users/me/sessions/{phone_id}", headers=headers).status_code == 204
    _assert_error(
        client.get("/users/me", headers=bearer(phone["access_token"])), 401, "token_revoked"
    )
    _assert_error(
        client.delete(f"/users/me/sessions/{phone_id}", headers=headers), 404, "not_found"
    )

    assert client.delete("/users/me/sessions", headers=headers).status_code == 204
    _assert_error(
        client.get("/users/me", headers=bearer(laptop["access_token"])), 401, "token_revoked"
    )
    assert client.get("/users/me", headers=headers).status_code == 200
    assert client.get("/users/me", headers=bearer(stranger["access_token"])).status_code == 200


def test_staff_list_a_users_sessions_and_admins_end_them(
    app, client, member, admin, operator, login
) -> None:
    members = login(member)
    admins, operators = login(admin), login(operator)

    for caller in (admins, operators):
        listed = client.get(f"/users/{member.id}/sessions", headers=bearer(caller["access_token"]))
        assert listed.status_code == 200
        assert [item["current"] for item in listed.get_json()["items"]] == [False]
    _assert_error(
        client.delete(f"/users/{member.id}/sessions", headers=bearer(operators["access_token"])),
        403,
        "forbidden",
    )
    _assert_error(
        client.get(f"/users/{admin.id}/sessions", headers=bearer(members["access_token"])),
        403,
        "forbidden",
    )
    _assert_error(
        client.get("/users/999/sessions", headers=bearer(admins["access_token"])), 404, "not_found"
    )

    ended = client.delete(f"/users/{member.id}/sessions", headers=bearer(admins["access_token"]))

    assert ended.status_code == 204
    _assert_error(
        client.get("/users/me", headers=bearer(members["access_token"])), 401, "token_revoked"
    )
    _assert_error(_refresh(client, members["refresh_token"]), 401, "token_revoked")
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "user.sessions_ended")
        ).one()
        assert (event.actor_id, event.target_id, event.changes) == (
            admin.id,
            member.id,
            {"sessions": [1, 0]},
        )


def test_a_password_change_keeps_this_session_with_new_tokens_and_ends_the_others(
    client, member, login
) -> None:
    this, other = login(member), login(member)

    response = client.put(
        "/users/me/password",
        json={"current_password": member.password, "new_password": "a-brand-new-passphrase"},
        headers=bearer(this["access_token"]),
    )

    assert response.status_code == 200
    renewed = response.get_json()
    assert renewed["refresh_token"] != this["refresh_token"]
    assert client.get("/users/me", headers=bearer(renewed["access_token"])).status_code == 200
    _assert_error(
        client.get("/users/me", headers=bearer(this["access_token"])), 401, "token_revoked"
    )
    _assert_error(
        client.get("/users/me", headers=bearer(other["access_token"])), 401, "token_revoked"
    )
    later = _refresh(client, renewed["refresh_token"])
    assert later.status_code == 200
    # The refresh token from before the change was retired by it: refused, but it ends nothing
    # (a second tab presenting it is no theft, and the change just secured the session).
    _assert_error(_refresh(client, this["refresh_token"]), 401, "token_revoked")
    assert _refresh(client, later.get_json()["refresh_token"]).status_code == 200


@pytest.mark.parametrize("change", [{"roles": ["operator"]}, {"is_active": False}])
def test_a_role_or_status_change_ends_every_session(client, member, admin, login, change) -> None:
    members = login(member)
    admins = login(admin)

    response = client.patch(
        f"/users/{member.id}", json=change, headers=bearer(admins["access_token"])
    )

    assert response.status_code == 200
    _assert_error(
        client.get("/users/me", headers=bearer(members["access_token"])), 401, "token_revoked"
    )
    assert _refresh(client, members["refresh_token"]).status_code == 401


def test_deleting_a_user_deletes_their_sessions(app, client, member, admin, login) -> None:
    members = login(member)
    admins = login(admin)

    assert (
        client.delete(f"/users/{member.id}", headers=bearer(admins["access_token"])).status_code
        == 204
    )

    _assert_error(
        client.get("/users/me", headers=bearer(members["access_token"])), 401, "token_revoked"
    )
    _assert_error(_refresh(client, members["refresh_token"]), 401, "invalid_token")
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(UserSession)
                .where(UserSession.user_id == member.id)
            )
            == 0
        )


def test_an_access_token_naming_no_session_of_its_user_is_refused(
    app, client, member, admin, login
) -> None:
    from app.models import User
    from app.tokens import access

    admins = login(admin)
    with app.test_request_context():
        admins_session = db.session.scalars(select(UserSession)).one()
        assert admins_session.user_id == admin.id
        forged = access.mint(db.session.get(User, member.id), admins_session, 60)

    _assert_error(client.get("/users/me", headers=bearer(forged)), 401, "token_revoked")
    # The session itself is live: the token is refused for naming another user's.
    own = client.get("/users/me", headers=bearer(admins["access_token"]))
    assert own.status_code == 200
    assert own.get_json()["username"] == admin.username


def test_prune_tokens_deletes_ended_and_expired_sessions_only(
    app, runner, client, member, login
) -> None:
    ended, expired, live = login(member), login(member), login(member)
    client.post("/logout", headers=bearer(ended["access_token"]))
    with app.app_context():
        newest = db.session.scalar(select(func.max(UserSession.id)))
        db.session.execute(
            update(UserSession)
            .where(UserSession.id == newest - 1)
            .values(idle_expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()

    result = runner.invoke(args=["prune-tokens"])

    assert result.exit_code == 0
    assert "Pruned 2 ended or expired session(s)." in result.output
    me = client.get("/users/me", headers=bearer(live["access_token"]))
    assert (me.status_code, me.get_json()["username"]) == (200, member.username)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RefreshToken)) == 1
    # The pruned sessions' refresh tokens are gone (unknown now); the live one still rotates.
    for pruned in (ended, expired):
        _assert_error(_refresh(client, pruned["refresh_token"]), 401, "invalid_token")
    renewed = _refresh(client, live["refresh_token"])
    assert renewed.status_code == 200
    assert renewed.get_json()["token_type"] == "Bearer"


def test_concurrent_refreshes_within_the_grace_leave_one_live_token(app, member, login) -> None:
    """Six refreshes of one token at once: one rotation, five retries, each retiring the token
    the one before it gave; exactly one token is live at the end, and it is the last given."""
    body = login(member)

    def refresh(_):
        return app.test_client().post("/refresh", json={"refresh_token": body["refresh_token"]})

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(refresh, range(6)))

    assert [response.status_code for response in responses] == [200] * 6
    given = [response.get_json()["refresh_token"] for response in responses]
    with app.app_context():
        live = db.session.scalars(
            select(RefreshToken.token_hash).where(RefreshToken.used_at.is_(None))
        ).all()
    assert len(live) == 1
    working = [token for token in given if hash_token(token) in live]
    assert len(working) == 1
    assert _refresh(app.test_client(), working[0]).status_code == 200
