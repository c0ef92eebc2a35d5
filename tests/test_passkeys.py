"""Passkeys (contract v3): registration from a fresh session, sign-in without a username, a
passkey as the second step of a sign-in and for /reauthenticate, and each refusal: a used
challenge, another site or origin, another account's passkey, a counter that goes backwards, no
user verification, an answer that cannot be read."""

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import AuditEvent, Passkey, User, UserSession
from tests.support.mail import outbox
from tests.support.passkey_device import Device, b64url
from tests.support.signin import bearer
from tests.support.totp import enrol


def actions(app, user_id: int) -> list[str]:
    with app.app_context():
        return db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.target_id == user_id, AuditEvent.action.like("passkey.%"))
            .order_by(AuditEvent.id)
        ).all()


def add_passkey(client, headers, device: Device, name: str | None = "laptop") -> dict:
    options = client.post("/users/me/passkeys/options", headers=headers)
    assert options.status_code == 200, options.get_json()
    body = {"credential": device.register(options.get_json())}
    if name is not None:
        body["name"] = name
    response = client.post("/users/me/passkeys", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def sign_in_options(client) -> dict:
    response = client.post("/login/passkey/options")
    assert response.status_code == 200
    return response.get_json()


def passkey_login(client, device: Device, **answer):
    return client.post(
        "/login/passkey", json={"credential": device.sign_in(sign_in_options(client), **answer)}
    )


@pytest.fixture
def device(client, member, auth) -> Device:
    """A passkey of ``member``, registered through the API."""
    made = Device()
    add_passkey(client, auth(member), made)
    return made


def test_a_passkey_is_added_from_a_fresh_session_audited_and_told(
    app, client, member, auth
) -> None:
    headers = auth(member)
    options = client.post("/users/me/passkeys/options", headers=headers).get_json()
    answer = Device().register(options)

    response = client.post(
        "/users/me/passkeys", json={"name": "laptop", "credential": answer}, headers=headers
    )

    body = response.get_json()
    assert response.status_code == 201
    assert response.headers["Location"] == f"/users/me/passkeys/{body['id']}"
    assert set(body) == {"id", "name", "created_at", "last_used_at"}
    assert (body["name"], body["last_used_at"]) == ("laptop", None)
    assert options["rp"]["id"] == "localhost"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    listed = client.get("/users/me/passkeys", headers=headers).get_json()
    assert [item["name"] for item in listed["items"]] == ["laptop"]
    assert actions(app, member.id) == ["passkey.added"]
    assert "A passkey was added" in outbox(app)[-1].subject
    with app.app_context():
        user = db.session.get(User, member.id)
        # The user handle is random bytes, not the account's id.
        assert len(user.webauthn_handle) == 32
        assert b64url(user.webauthn_handle) == options["user"]["id"]


def test_adding_or_removing_a_passkey_needs_a_fresh_session(
    client,
    member,
    auth,
    device,
    age_sessions,
) -> None:
    headers = auth(member)
    passkey_id = client.get("/users/me/passkeys", headers=headers).get_json()["items"][0]["id"]
    age_sessions(301)

    stale_options = client.post("/users/me/passkeys/options", headers=headers)
    stale_removal = client.delete(f"/users/me/passkeys/{passkey_id}", headers=headers)
    proved = client.post(
        "/reauthenticate",
        json={"credential": device.sign_in(sign_in_options(client))},
        headers=headers,
    )
    fresh_options = client.post("/users/me/passkeys/options", headers=headers)

    for stale in (stale_options, stale_removal):
        assert stale.status_code == 401
        assert stale.get_json()["error"] == "reauthentication_required"
    assert proved.status_code == 204
    assert fresh_options.status_code == 200
    assert fresh_options.get_json()["challenge"]


def test_a_registration_challenge_works_once_and_for_its_user_only(
    client, member, make_user, auth
) -> None:
    headers = auth(member)
    options = client.post("/users/me/passkeys/options", headers=headers).get_json()
    answer = Device().register(options)
    other = auth(make_user("other"))

    stolen = client.post("/users/me/passkeys", json={"credential": answer}, headers=other)
    first = client.post("/users/me/passkeys", json={"credential": answer}, headers=headers)
    again = client.post("/users/me/passkeys", json={"credential": answer}, headers=headers)

    assert stolen.status_code == 401
    assert stolen.get_json()["error"] == "invalid_credentials"
    assert first.status_code == 201
    assert first.get_json()["name"] == "Passkey 1"
    assert again.status_code == 401
    assert again.get_json()["details"] == {"credential": [again.get_json()["message"]]}


@pytest.mark.parametrize("answer", [{"origin": "https://evil.example"}, {"rp_id": "evil.example"}])
def test_a_registration_for_another_site_is_refused(client, member, auth, answer) -> None:
    headers = auth(member)
    options = client.post("/users/me/passkeys/options", headers=headers).get_json()

    response = client.post(
        "/users/me/passkeys",
        json={"credential": Device().register(options, **answer)},
        headers=headers,
    )

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_credentials"
    assert client.get("/users/me/passkeys", headers=headers).get_json()["items"] == []


def test_the_same_passkey_is_not_registered_twice(client, member, auth, device) -> None:
    headers = auth(member)
    options = client.post("/users/me/passkeys/options", headers=headers).get_json()

    response = client.post(
        "/users/me/passkeys", json={"credential": device.register(options)}, headers=headers
    )

    assert [item["id"] for item in options["excludeCredentials"]] == [b64url(device.credential_id)]
    assert response.status_code == 409
    assert response.get_json()["error"] == "conflict"


def test_a_passkey_signs_in_without_a_username(app, client, member, device) -> None:
    response = passkey_login(client, device)

    body = response.get_json()
    assert response.status_code == 200
    assert body["token_type"] == "Bearer"
    me = client.get("/users/me", headers=bearer(body["access_token"]))
    assert me.get_json()["username"] == member.username
    with app.app_context():
        session = db.session.scalars(
            select(UserSession).order_by(UserSession.id.desc()).limit(1)
        ).one()
        passkey = db.session.scalars(select(Passkey)).one()
        assert session.method == "passkey"
        assert passkey.sign_count == 1
        assert passkey.last_used_at is not None


def test_a_sign_in_answer_works_once(client, device) -> None:
    answer = device.sign_in(sign_in_options(client))

    first = client.post("/login/passkey", json={"credential": answer})
    replayed = client.post("/login/passkey", json={"credential": answer})

    assert first.status_code == 200
    assert replayed.status_code == 401
    assert replayed.get_json()["error"] == "invalid_credentials"


@pytest.mark.parametrize(
    "answer",
    [
        {"origin": "https://evil.example"},
        {"origin": "http://localhost:5001"},
        {"rp_id": "evil.example"},
        {"verified": False},
    ],
)
def test_a_sign_in_for_another_site_or_unverified_is_refused(client, device, answer) -> None:
    response = passkey_login(client, device, **answer)

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_credentials"


def test_a_counter_that_goes_backwards_is_refused(client, device) -> None:
    assert passkey_login(client, device, sign_count=5).status_code == 200

    response = passkey_login(client, device, sign_count=3)

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_credentials"


def test_a_synced_passkey_that_never_counts_keeps_working(client, member, auth) -> None:
    synced = Device(counting=False)
    add_passkey(client, auth(member), synced)

    first = passkey_login(client, synced)
    second = passkey_login(client, synced)

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.get_json()["access_token"] != second.get_json()["access_token"]


def test_an_unknown_passkey_is_refused(client, device) -> None:
    stranger = Device()
    stranger.user_handle = device.user_handle

    response = passkey_login(client, stranger)

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_credentials"


def test_a_passkey_of_a_disabled_account_does_not_sign_in(app, client, member, device) -> None:
    with app.app_context():
        db.session.execute(update(User).values(is_active=False))
        db.session.commit()

    response = passkey_login(client, device)

    assert response.status_code == 403
    assert response.get_json()["error"] == "account_disabled"


@pytest.mark.parametrize(
    "credential",
    [
        {},
        {"id": "x", "rawId": "x", "type": "public-key", "response": {}},
        {"id": "x", "rawId": "x", "response": {"clientDataJSON": "!!!"}},
        {"id": 1, "rawId": [], "response": {"clientDataJSON": "e30"}},
        {"response": {"clientDataJSON": b64url(b'{"challenge": 5}')}},
        {"response": {"clientDataJSON": b64url(b'{"challenge": "\\u00e9"}')}},
    ],
)
def test_an_answer_that_cannot_be_read_is_refused_not_a_500(
    client, member, auth, credential
) -> None:
    signed_in = client.post("/login/passkey", json={"credential": credential})
    added = client.post("/users/me/passkeys", json={"credential": credential}, headers=auth(member))

    assert signed_in.status_code == 401
    assert signed_in.get_json()["error"] == "invalid_credentials"
    assert added.status_code == 401
    assert added.get_json()["error"] == "invalid_credentials"


def test_a_password_login_of_an_account_with_a_passkey_asks_for_it(
    app, client, member, device
) -> None:
    first = client.post("/login", json={"username": member.username, "password": member.password})

    assert first.status_code == 200
    assert first.get_json()["mfa_required"] is True
    assert first.get_json()["second_factors"] == ["passkey"]
    answer = device.sign_in(sign_in_options(client))
    second = client.post(
        "/login/mfa", json={"mfa_token": first.get_json()["mfa_token"], "credential": answer}
    )
    assert second.status_code == 200
    assert "access_token" in second.get_json()
    # (The session records the second factor that started it.)
    with app.app_context():
        session = db.session.scalars(
            select(UserSession).order_by(UserSession.id.desc()).limit(1)
        ).one()
        assert session.method == "passkey"


def test_another_accounts_passkey_is_no_second_factor(app, client, member, make_user, auth) -> None:
    add_passkey(client, auth(member), Device())
    other = make_user("other")
    others_device = Device()
    add_passkey(client, auth(other), others_device)
    first = client.post("/login", json={"username": member.username, "password": member.password})

    answer = others_device.sign_in(sign_in_options(client))
    response = client.post(
        "/login/mfa", json={"mfa_token": first.get_json()["mfa_token"], "credential": answer}
    )

    assert response.status_code == 401
    assert response.get_json()["details"] == {"credential": ["The passkey is incorrect."]}
    with app.app_context():
        assert db.session.get(User, member.id).failed_login_count == 1


def test_a_passkey_reauthenticates_and_only_its_own_users(
    client, member, make_user, auth, token_for, device
) -> None:
    other = make_user("other")
    others_device = Device()
    add_passkey(client, auth(other), others_device)
    headers = bearer(token_for(member))

    foreign = client.post(
        "/reauthenticate",
        json={"credential": others_device.sign_in(sign_in_options(client))},
        headers=headers,
    )
    own = client.post(
        "/reauthenticate",
        json={"credential": device.sign_in(sign_in_options(client))},
        headers=headers,
    )

    assert foreign.status_code == 401
    assert foreign.get_json()["error"] == "invalid_credentials"
    assert own.status_code == 204


def test_reauthenticating_with_a_password_needs_the_passkey_too(
    client, member, token_for, device
) -> None:
    headers = bearer(token_for(member))

    alone = client.post("/reauthenticate", json={"password": member.password}, headers=headers)
    both = client.post(
        "/reauthenticate",
        json={
            "password": member.password,
            "credential": device.sign_in(sign_in_options(client)),
        },
        headers=headers,
    )
    nothing = client.post("/reauthenticate", json={}, headers=headers)

    assert alone.status_code == 422
    assert "code" in alone.get_json()["details"]
    assert both.status_code == 204
    assert nothing.status_code == 422
    assert "password" in nothing.get_json()["details"]


def test_removing_a_passkey_needs_a_fresh_session_and_it_stops_signing_in(
    app, client, member, make_user, auth, device
) -> None:
    headers = auth(member)
    passkey_id = client.get("/users/me/passkeys", headers=headers).get_json()["items"][0]["id"]

    foreign = client.delete(f"/users/me/passkeys/{passkey_id}", headers=auth(make_user("x")))
    removed = client.delete(f"/users/me/passkeys/{passkey_id}", headers=headers)

    assert foreign.status_code == 404
    assert foreign.get_json()["error"] == "not_found"
    assert removed.status_code == 204
    assert passkey_login(client, device).status_code == 401
    assert actions(app, member.id) == ["passkey.added", "passkey.removed"]


def test_a_personal_token_cannot_manage_passkeys(client, member, auth) -> None:
    created = client.post(
        "/users/me/tokens", json={"name": "ci", "scopes": ["profile"]}, headers=auth(member)
    ).get_json()

    response = client.get("/users/me/passkeys", headers=bearer(created["token"]))

    assert response.status_code == 403
    assert response.get_json()["error"] == "insufficient_scope"


def test_a_passkey_satisfies_mfa_required_roles(make_app, make_user, token_for) -> None:
    app = make_app(MFA_REQUIRED_ROLES=["admin"])
    client = app.test_client()
    admin = make_user("boss", roles=("admin",))
    headers = bearer(token_for(admin))
    made = Device()
    add_passkey(client, headers, made)
    passkey_id = client.get("/users/me/passkeys", headers=headers).get_json()["items"][0]["id"]

    by_password = client.post("/login", json={"username": "boss", "password": admin.password})
    by_passkey = passkey_login(client, made)
    last_removed = client.delete(f"/users/me/passkeys/{passkey_id}", headers=headers)
    authenticator = enrol(client, headers)
    totp_on = client.post(
        "/users/me/mfa/totp/confirm", json={"code": authenticator.code()}, headers=headers
    )
    totp_off = client.post(
        "/users/me/mfa/disable", json={"code": authenticator.code()}, headers=headers
    )

    assert by_password.status_code == 200
    assert by_password.get_json()["second_factors"] == ["passkey"]
    assert by_passkey.status_code == 200
    assert last_removed.status_code == 409
    assert last_removed.get_json()["error"] == "conflict"
    assert totp_on.status_code == 200
    # TOTP may go: the passkey stays a second factor.
    assert totp_off.status_code == 204, totp_off.get_json()


def test_an_admins_mfa_reset_removes_the_passkeys(app, client, admin, member, auth, device) -> None:
    response = client.delete(f"/users/{member.id}/mfa", headers=auth(admin))

    assert response.status_code == 204
    assert passkey_login(client, device).status_code == 401
    assert actions(app, member.id) == ["passkey.added", "passkey.removed"]
