"""Personal access tokens (contract v3): created from a fresh session, shown once, stored as a
digest, acting as their user within their scopes and their user's roles, never for what needs
a session, revoked by their owner, an admin, a password change or reset, a deactivation."""

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import AuditEvent, PersonalToken, User
from app.models.columns import utcnow
from app.tokens import personal
from app.tokens.opaque import digest
from tests.support.errors import without_request_id
from tests.support.processes import free_port
from tests.support.signin import bearer

ALL_SCOPES = ["profile", "users:read", "bucketlists:read", "bucketlists:write"]
LEAK_PATTERN = re.compile(r"gh_pat_[A-Za-z0-9_-]{43}")


@pytest.fixture
def create_token(client, auth):
    def create(account, scopes=("profile",), **extra) -> dict:
        response = client.post(
            "/users/me/tokens",
            json={"name": "ci", "scopes": list(scopes), **extra},
            headers=auth(account),
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return create


def test_a_token_is_shown_once_with_its_prefix_and_only_its_digest_is_kept(
    app, client, member, auth
) -> None:
    headers = auth(member)
    response = client.post(
        "/users/me/tokens", json={"name": "laptop", "scopes": ["profile"]}, headers=headers
    )

    body = response.get_json()
    assert response.status_code == 201
    assert response.headers["Location"] == f"/users/me/tokens/{body['id']}"
    assert set(body) == {
        "id",
        "name",
        "scopes",
        "created_at",
        "expires_at",
        "last_used_at",
        "organization_id",
        "token",
    }
    assert body["organization_id"] is None
    assert LEAK_PATTERN.fullmatch(body["token"])
    assert (body["name"], body["scopes"], body["last_used_at"]) == ("laptop", ["profile"], None)
    listed = client.get("/users/me/tokens", headers=headers).get_json()
    assert listed["items"] == [{key: value for key, value in body.items() if key != "token"}]
    with app.app_context():
        stored = db.session.scalars(select(PersonalToken)).one()
        assert stored.digest == digest(body["token"])
        assert body["token"] not in str(db.session.execute(select(PersonalToken.__table__)).all())


def test_the_default_lifespan_is_thirty_days_and_the_most_a_year(client, member, auth) -> None:
    headers = auth(member)
    default = client.post(
        "/users/me/tokens", json={"name": "a", "scopes": ["profile"]}, headers=headers
    )
    too_long = client.post(
        "/users/me/tokens",
        json={"name": "b", "scopes": ["profile"], "expires_in": 365 * 24 * 3600 + 1},
        headers=headers,
    )

    assert default.status_code == 201
    body = default.get_json()
    lifespan = datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(
        body["created_at"]
    )
    assert abs(lifespan - timedelta(days=30)) < timedelta(seconds=5)
    assert too_long.status_code == 422
    assert too_long.get_json()["error"] == "validation_error"
    assert "PAT_MAX_LIFESPAN" in too_long.get_json()["details"]["expires_in"][0]


def test_a_token_acts_as_its_user_within_its_scopes(client, member, create_token) -> None:
    token = create_token(member, scopes=["profile"])["token"]

    me = client.get("/users/me", headers=bearer(token))
    directory = client.get("/users", headers=bearer(token))

    assert me.status_code == 200
    assert me.get_json()["username"] == "member"
    assert directory.status_code == 403
    assert directory.get_json()["error"] == "insufficient_scope"
    assert directory.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_scope", scope="users:read"'
    )


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/users/me/tokens", None),
        ("POST", "/users/me/tokens", {"name": "more", "scopes": ["profile"]}),
        ("GET", "/users/me/sessions", None),
        ("DELETE", "/users/me/sessions", None),
        ("PUT", "/users/me/password", {"current_password": "x", "new_password": "y" * 12}),
        ("PATCH", "/users/me", {"email": "elsewhere@example.com"}),
        ("POST", "/users/me/mfa/totp", None),
        ("POST", "/reauthenticate", {"password": "correct-horse-battery"}),
        ("POST", "/logout", None),
    ],
)
def test_a_token_never_manages_tokens_sessions_passwords_mfa_or_the_address(
    client, member, create_token, method, path, body
) -> None:
    token = create_token(member, scopes=ALL_SCOPES)["token"]

    response = client.open(path, method=method, json=body, headers=bearer(token))

    assert response.status_code == 403, response.get_json()
    assert response.get_json()["error"] == "insufficient_scope"
    assert response.headers["WWW-Authenticate"].endswith('scope="session"')


def test_scopes_beyond_the_users_roles_are_refused(client, member, auth) -> None:
    response = client.post(
        "/users/me/tokens",
        json={"name": "greedy", "scopes": ["profile", "audit:read", "users:write"]},
        headers=auth(member),
    )

    assert response.status_code == 422
    assert response.get_json()["details"] == {
        "scopes": ["Your roles do not give audit:read, users:write."]
    }


def test_a_demoted_users_token_loses_what_the_role_gave(
    client, admin, make_user, auth, create_token
) -> None:
    staff = make_user("staffer", roles=("admin",))
    token = create_token(staff, scopes=["audit:read", "users:write", "profile"])["token"]
    assert client.get("/audit-events", headers=bearer(token)).status_code == 200

    demoted = client.patch(f"/users/{staff.id}", json={"roles": ["user"]}, headers=auth(admin))
    audit = client.get("/audit-events", headers=bearer(token))
    create = client.post(
        "/users",
        json={"username": "made", "email": "made@example.com", "password": "violet-harbor-x9"},
        headers=bearer(token),
    )

    assert demoted.status_code == 200
    for response in (audit, create):
        assert response.status_code == 403
        assert response.get_json()["error"] == "forbidden"
    assert client.get("/users/me", headers=bearer(token)).status_code == 200


def test_revoking_a_token_stops_it_at_once(
    app, client, member, make_user, auth, create_token
) -> None:
    created = create_token(member)
    other = create_token(make_user("other"))

    mine = client.delete(f"/users/me/tokens/{created['id']}", headers=auth(member))
    not_mine = client.delete(f"/users/me/tokens/{other['id']}", headers=auth(member))
    refused = client.get("/users/me", headers=bearer(created["token"]))

    assert mine.status_code == 204
    assert not_mine.status_code == 404
    assert not_mine.get_json()["error"] == "not_found"
    assert refused.status_code == 401
    assert refused.get_json()["error"] == "invalid_token"
    assert client.get("/users/me", headers=bearer(other["token"])).status_code == 200
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions.count("token.created") == 2
    assert actions.count("token.revoked") == 1


def test_staff_see_a_users_tokens_and_admins_revoke_them(
    client, member, admin, operator, auth, create_token
) -> None:
    created = create_token(member)

    listed = client.get(f"/users/{member.id}/tokens", headers=auth(operator))
    by_operator = client.delete(
        f"/users/{member.id}/tokens/{created['id']}", headers=auth(operator)
    )
    by_admin = client.delete(f"/users/{member.id}/tokens/{created['id']}", headers=auth(admin))

    assert listed.status_code == 200
    assert [item["id"] for item in listed.get_json()["items"]] == [created["id"]]
    assert "token" not in listed.get_json()["items"][0]
    assert by_operator.status_code == 403
    assert by_operator.get_json()["error"] == "forbidden"
    assert by_admin.status_code == 204
    assert by_admin.get_data() == b""
    refused = client.get("/users/me", headers=bearer(created["token"]))
    assert (refused.status_code, refused.get_json()["error"]) == (401, "invalid_token")


def _change_password(client, account, auth):
    return client.put(
        "/users/me/password",
        json={"current_password": account.password, "new_password": "amber-quarry-signal"},
        headers=auth(account),
    )


def _deactivate(client, account, auth, admin):
    return client.patch(f"/users/{account.id}", json={"is_active": False}, headers=auth(admin))


@pytest.mark.parametrize("ending", [_change_password, _deactivate])
def test_a_password_change_or_a_deactivation_ends_the_users_tokens(
    app, client, member, admin, auth, create_token, ending
) -> None:
    created = create_token(member)

    ended = (
        ending(client, member, auth, admin)
        if ending is _deactivate
        else ending(client, member, auth)
    )
    response = client.get("/users/me", headers=bearer(created["token"]))

    assert ended.status_code == 200
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "token.revoked")
        ).one()
        assert event.changes["tokens"] == [1, 0]


def test_a_reset_ends_the_users_tokens(app, client, member, create_token) -> None:
    created = create_token(member)
    forgot = client.post("/password/forgot", json={"email": member.email})
    assert forgot.status_code == 202
    mail = app.extensions["mailman"].outbox[-1].body
    token = re.search(r"<pre>(.+?)</pre>", mail).group(1)

    reset = client.post("/password/reset", json={"token": token, "password": "amber-quarry-signal"})

    assert reset.status_code == 204
    assert reset.get_data() == b""
    refused = client.get("/users/me", headers=bearer(created["token"]))
    assert (refused.status_code, refused.get_json()["error"]) == (401, "invalid_token")


def test_a_token_is_checked_in_one_statement_and_its_use_written_once_a_minute(
    client, member, auth, create_token, counted_statements
) -> None:
    """The token and its user are read together, and ``last_used_at`` is written on the first
    use of a minute only (the count of statements is the cost the guard promises)."""
    token = create_token(member)["token"]

    def last_used() -> str | None:
        listed = client.get("/users/me/tokens", headers=auth(member))
        assert listed.status_code == 200
        return listed.get_json()["items"][0]["last_used_at"]

    never = last_used()
    with counted_statements() as first:
        me = client.get("/users/me", headers=bearer(token))
    used = last_used()
    with counted_statements() as second:
        again = client.get("/users/me", headers=bearer(token))

    for answer in (me, again):
        assert (answer.status_code, answer.get_json()["username"]) == (200, member.username)
    assert never is None
    assert used is not None
    assert last_used() == used
    # One read, then the write of the minute's first use; within the minute, the read alone.
    assert (len(first), len(second)) == (2, 1)


def _last_used(app, token_id: int) -> datetime | None:
    with app.app_context():
        return db.session.scalar(
            select(PersonalToken.last_used_at).where(PersonalToken.id == token_id)
        )


def test_a_use_is_written_to_the_token_used_only(app, client, member, create_token) -> None:
    used, unused = create_token(member), create_token(member)

    me = client.get("/users/me", headers=bearer(used["token"]))

    assert (me.status_code, me.get_json()["username"]) == (200, member.username)
    assert _last_used(app, used["id"]) is not None
    assert _last_used(app, unused["id"]) is None


def test_a_use_more_than_a_minute_after_the_last_is_written(
    app, client, member, create_token
) -> None:
    created = create_token(member)
    two_minutes_ago = utcnow() - timedelta(minutes=2)
    with app.app_context():
        db.session.execute(update(PersonalToken).values(last_used_at=two_minutes_ago))
        db.session.commit()

    me = client.get("/users/me", headers=bearer(created["token"]))

    assert (me.status_code, me.get_json()["username"]) == (200, member.username)
    assert _last_used(app, created["id"]) > two_minutes_ago + timedelta(minutes=1)


def test_a_use_another_request_wrote_meanwhile_is_not_written_again(
    app, member, create_token
) -> None:
    """Two requests may both read a use older than a minute: the statement checks again, so
    only the first writes."""
    created = create_token(member)
    table = PersonalToken.__table__
    with app.app_context():
        db.session.execute(update(table).values(last_used_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
        token = db.session.get(PersonalToken, created["id"])
        assert token.last_used_at < utcnow() - timedelta(minutes=1)
        written_meanwhile = utcnow() - timedelta(seconds=10)
        with db.engine.begin() as other_request:
            other_request.execute(update(table).values(last_used_at=written_meanwhile))

        personal.record_use(token)
        db.session.commit()

    assert _last_used(app, created["id"]) == written_meanwhile


def test_too_many_tokens_are_refused(make_app, member, auth) -> None:
    client = make_app(PATS_PER_USER=2).test_client()
    headers = auth(member)
    answers = [
        client.post(
            "/users/me/tokens", json={"name": f"t{n}", "scopes": ["profile"]}, headers=headers
        )
        for n in range(3)
    ]

    assert [answer.status_code for answer in answers] == [201, 201, 409]
    assert answers[2].get_json()["error"] == "conflict"


def test_a_token_is_refused_on_every_route_that_needs_a_session(
    make_app, admin, create_token
) -> None:
    """Every operation the document gives the ``session`` scope (tokens, sessions, passwords,
    MFA, passkeys, identities, the address, freshness) refuses a personal token, even an
    admin's with every scope, before looking at anything else."""
    provider = {
        "name": "test",
        "issuer": f"http://127.0.0.1:{free_port()}",
        "client_id": "gatehouse",
        "client_secret": "s",
    }
    client = make_app(OIDC_PROVIDERS=[provider]).test_client()
    everything = ["profile", "users:read", "users:write", "bucketlists:read"]
    everything += ["bucketlists:write", "audit:read"]
    token = create_token(admin, scopes=everything)["token"]
    spec = client.get("/openapi.json").get_json()
    checked = []

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters" or {"bearerAuth": ["session"]} not in operation.get(
                "security", []
            ):
                continue
            url = re.sub(r"\{provider\}", "test", re.sub(r"\{\w+_id\}", "1", path))

            response = client.open(url, method=method.upper(), json={}, headers=bearer(token))

            assert response.status_code == 403, (method, path, response.get_json())
            assert response.get_json()["error"] == "insufficient_scope", (method, path)
            assert response.headers["WWW-Authenticate"].endswith('scope="session"')
            checked.append((method.upper(), path))

    assert len(checked) >= 20, checked
    assert ("DELETE", "/users/me/sessions/{session_id}") in checked


def test_an_account_deletion_ends_the_users_tokens(
    client, admin, member, auth, create_token
) -> None:
    token = create_token(member)["token"]
    before = client.get("/users/me", headers=bearer(token))

    deleted = client.delete(f"/users/{member.id}", headers=auth(admin))
    after = client.get("/users/me", headers=bearer(token))

    assert (before.status_code, before.get_json()["username"]) == (200, member.username)
    assert (deleted.status_code, deleted.get_data()) == (204, b"")
    assert after.status_code == 401
    assert after.get_json()["error"] == "invalid_token"


def test_a_revoked_token_is_refused_with_the_answer_of_a_token_never_made(
    client, member, auth, create_token
) -> None:
    created = create_token(member)
    revoked = client.delete(f"/users/me/tokens/{created['id']}", headers=auth(member))

    answers = [
        client.get("/users/me", headers=bearer(token))
        for token in (created["token"], personal.mint()[0])
    ]

    assert revoked.status_code == 204
    for answer in answers:
        assert answer.status_code == 401
        assert without_request_id(answer.get_json()) == {
            "error": "invalid_token",
            "message": "The token is not one of ours (or was revoked).",
            "status": 401,
        }


def _me_after(app, client, token: str, statement):
    """GET /users/me with ``token`` once ``statement`` is committed."""
    with app.app_context():
        db.session.execute(statement)
        db.session.commit()
    return client.get("/users/me", headers=bearer(token))


def test_an_expired_token_is_refused_saying_it_expired(app, client, member, create_token) -> None:
    created = create_token(member)
    expired = update(PersonalToken).values(expires_at=utcnow() - timedelta(seconds=1))

    response = _me_after(app, client, created["token"], expired)

    assert response.status_code == 401
    assert without_request_id(response.get_json()) == {
        "error": "token_expired",
        "message": "The personal token has expired.",
        "status": 401,
    }


def test_a_token_of_an_account_that_may_no_longer_sign_in_is_403_account_disabled(
    app, client, member, create_token
) -> None:
    """An account whose address is no longer confirmed keeps its tokens, but may not use them
    until it is confirmed again."""
    created = create_token(member)
    unconfirmed = update(User).where(User.user_id == member.id).values(email_confirmed=False)

    response = _me_after(app, client, created["token"], unconfirmed)

    assert response.status_code == 403
    assert without_request_id(response.get_json()) == {
        "error": "account_disabled",
        "message": "The account is disabled.",
        "status": 403,
    }


def test_what_a_token_changes_is_audited_as_done_by_its_holder(
    app, client, admin, member, create_token
) -> None:
    token = create_token(admin, scopes=["users:write"])["token"]

    changed = client.patch(
        f"/users/{member.id}", json={"roles": ["user", "operator"]}, headers=bearer(token)
    )

    assert changed.status_code == 200
    assert changed.get_json()["roles"] == ["operator", "user"]
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "user.roles_changed")
        ).one()
        assert (event.actor_id, event.target_id) == (admin.id, member.id)
        assert event.changes == {"roles": [["user"], ["operator", "user"]]}


def test_a_token_bound_to_an_organization_does_there_only_what_its_scopes_give(
    client, member, auth, create_token
) -> None:
    org = client.post("/orgs", json={"name": "Acme Corp"}, headers=auth(member)).get_json()
    reader = create_token(member, scopes=["profile", "bucketlists:read"], organization_id=org["id"])
    profile_only = create_token(member, scopes=["profile"], organization_id=org["id"])
    url = f"/bucketlists?organization_id={org['id']}"

    listed = client.get(url, headers=bearer(reader["token"]))
    invitations = client.get(f"/orgs/{org['id']}/invitations", headers=bearer(reader["token"]))
    unlisted = client.get(url, headers=bearer(profile_only["token"]))

    assert (listed.status_code, listed.get_json()["items"]) == (200, [])
    assert invitations.status_code == 403
    assert without_request_id(invitations.get_json()) == {
        "error": "forbidden",
        "message": "This needs the permission members:invite.",
        "status": 403,
        "details": {"permissions": ["members:invite"]},
    }
    assert unlisted.status_code == 403
    assert without_request_id(unlisted.get_json()) == {
        "error": "insufficient_scope",
        "message": "This token's scopes do not cover this request: it needs bucketlists:read.",
        "status": 403,
    }
    assert unlisted.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_scope", scope="bucketlists:read"'
    )
