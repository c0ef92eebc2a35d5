"""Data rights (contract v4): the export of everything kept about an account, streamed, with no
secret and other people by id only; and the deletion of an account by its holder or an admin,
one service: every token stops at once, a notice is e-mailed, the audit trail keeps the id and
loses the personal data, and the username and address are free again."""

import json

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Bucketlist, Identity, Passkey, PersonalToken, User
from app.tokens.opaque import digest
from tests.support.mail import outbox
from tests.support.passkey_device import Device, b64url
from tests.support.signin import bearer, login
from tests.support.totp import enrol

SECTIONS = [
    "format",
    "exported_at",
    "profile",
    "sessions",
    "personal_tokens",
    "passkeys",
    "identities",
    "memberships",
    "bucketlists",
    "audit_events",
]


def export(client, headers):
    return client.get("/users/me/export", headers=headers)


def everything_of(app, client, account, headers) -> dict:
    """One of everything an account can have, made through the API where it can be; the
    secrets each answer showed."""
    secrets = {"password": account.password}
    token = client.post(
        "/users/me/tokens", json={"name": "ci", "scopes": ["profile"]}, headers=headers
    )
    secrets["personal_token"] = token.get_json()["token"]
    options = client.post("/users/me/passkeys/options", headers=headers).get_json()
    device = Device()
    added = client.post(
        "/users/me/passkeys",
        json={"name": "laptop", "credential": device.register(options)},
        headers=headers,
    )
    listed = client.post("/bucketlists", json={"name": "Travel"}, headers=headers).get_json()
    client.post(f"/bucketlists/{listed['id']}/items", json={"title": "Lisbon"}, headers=headers)
    with app.app_context():
        db.session.add(
            Identity(
                user_id=account.id,
                provider="test",
                issuer="https://idp.example",
                subject="sub-1",
                email="linked@example.net",
            )
        )
        db.session.commit()
        passkey = db.session.scalar(select(Passkey).where(Passkey.user_id == account.id))
        secrets["passkey_credential"] = b64url(passkey.credential_id)
        secrets["passkey_public_key"] = b64url(passkey.public_key)
        secrets["hash"] = db.session.get(User, account.id).password
        secrets["token_digest"] = db.session.scalar(select(PersonalToken.digest))
    assert (token.status_code, added.status_code) == (201, 201)
    return secrets


def test_the_export_holds_one_of_everything_and_no_secret(app, client, admin, auth) -> None:
    tokens = login(client, admin)
    headers = bearer(tokens["access_token"])
    secrets = everything_of(app, client, admin, headers)
    authenticator = enrol(client, headers)
    confirmed = client.post(
        "/users/me/mfa/totp/confirm", json={"code": authenticator.code()}, headers=headers
    )
    recovery_codes = confirmed.get_json()["recovery_codes"]
    other = client.post(
        "/users",
        json={
            "username": "bystander",
            "email": "bystander@example.com",
            "password": "amber-quarry-signal",
        },
        headers=headers,
    ).get_json()

    response = export(client, headers)

    streamed = response.is_streamed and "Content-Length" not in response.headers
    raw = response.get_data(as_text=True)
    document = json.loads(raw)
    assert response.status_code == 200
    assert streamed
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="gatehouse-export-{admin.id}.json"'
    )
    assert list(document) == SECTIONS
    assert document["format"] == "gatehouse-export/1"
    assert document["profile"]["id"] == admin.id
    assert document["profile"]["email"] == admin.email
    assert document["profile"]["mfa_enabled"] is True
    assert len(document["sessions"]) == 1
    assert document["sessions"][0]["current"] is True
    assert [t["name"] for t in document["personal_tokens"]] == ["ci"]
    assert [p["name"] for p in document["passkeys"]] == ["laptop"]
    assert [(i["provider"], i["email"]) for i in document["identities"]] == [
        ("test", "linked@example.net")
    ]
    (bucketlist,) = document["bucketlists"]
    assert bucketlist["name"] == "Travel"
    assert [item["title"] for item in bucketlist["items"]] == ["Lisbon"]
    actions = [event["action"] for event in document["audit_events"]]
    assert {"user.created", "token.created", "passkey.added", "user.mfa_enabled"} <= set(actions)
    for name, secret in {
        **secrets,
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "refresh_digest": digest(tokens["refresh_token"]),
        "totp_secret": authenticator.totp.secret,
        **{f"recovery code {n}": code for n, code in enumerate(recovery_codes)},
    }.items():
        assert secret not in raw, f"the export holds the {name}"
    # Other people by id only: the account the admin created appears, without its data.
    (created,) = [
        event
        for event in document["audit_events"]
        if event["action"] == "user.created" and event["target_id"] == other["id"]
    ]
    assert created["changes"]["username"] == [None, None]
    assert "bystander" not in raw


def test_the_export_is_as_long_as_the_data(app, client, member, auth) -> None:
    """Sections longer than a batch come whole (they are read in batches as they are sent)."""
    headers = auth(member)
    with app.app_context():
        db.session.add_all(
            Bucketlist(owner_id=member.id, name=f"list {number}") for number in range(1203)
        )
        db.session.commit()

    document = json.loads(export(client, headers).get_data(as_text=True))

    assert [b["name"] for b in document["bucketlists"]] == [f"list {n}" for n in range(1203)]


def test_the_export_needs_a_fresh_session(client, member, auth, age_sessions) -> None:
    headers = auth(member)
    token = client.post(
        "/users/me/tokens", json={"name": "ci", "scopes": ["profile"]}, headers=headers
    ).get_json()["token"]
    age_sessions(301)

    stale = export(client, headers)
    personal = export(client, bearer(token))

    assert stale.status_code == 401
    assert stale.get_json()["error"] == "reauthentication_required"
    assert personal.status_code == 403
    assert personal.get_json()["error"] == "insufficient_scope"


def audit_text(app) -> str:
    with app.app_context():
        rows = db.session.execute(
            select(AuditEvent.changes, AuditEvent.request_id, AuditEvent.action)
        ).all()
    return json.dumps([list(row) for row in rows])


def test_deleting_my_account_ends_everything_and_keeps_no_personal_data(
    app, client, member, admin, auth
) -> None:
    client.patch(f"/users/{member.id}", json={"roles": ["user", "operator"]}, headers=auth(admin))
    tokens = login(client, member)
    headers = bearer(tokens["access_token"])
    everything_of(app, client, member, headers)
    token = client.post(
        "/users/me/tokens",
        json={"name": f"{member.username}'s laptop", "scopes": ["profile"]},
        headers={**headers, "X-Request-ID": f"by-{member.username}"},
    ).get_json()["token"]

    response = client.delete("/users/me", headers=headers)

    assert (response.status_code, response.get_data()) == (204, b"")
    for bearer_token in (headers["Authorization"].split()[1], token):
        refused = client.get("/users/me", headers=bearer(bearer_token))
        assert refused.status_code == 401
        assert refused.get_json()["error"] in ("token_revoked", "invalid_token")
    refreshed = client.post("/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401
    (notice,) = [m for m in outbox(app) if m.subject == "Your Gatehouse account was deleted"]
    assert notice.to == [member.email]
    assert "at your request" in notice.body
    with app.app_context():
        (deleted,) = db.session.execute(
            select(AuditEvent.actor_id, AuditEvent.target_id, AuditEvent.changes).where(
                AuditEvent.action == "user.deleted"
            )
        ).all()
        kept = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.target_id == member.id)
        ).all()
        assert db.session.scalar(select(Bucketlist).where(Bucketlist.owner_id == member.id)) is None
    assert deleted == (member.id, member.id, {})
    assert {"user.created", "user.roles_changed", "token.created", "user.deleted"} <= set(kept)
    trail = audit_text(app).casefold()
    assert member.username.casefold() not in trail
    assert member.email.casefold() not in trail
    assert "laptop" not in trail


def test_the_username_and_address_are_free_again(client, member, auth) -> None:
    client.delete("/users/me", headers=auth(member))

    again = client.post(
        "/register",
        json={
            "username": member.username,
            "email": member.email,
            "password": "amber-quarry-signal",
        },
    )

    assert again.status_code == 201
    assert (again.get_json()["username"], again.get_json()["email"]) == (
        member.username,
        member.email,
    )
    assert again.get_json()["id"] != member.id


def test_an_admin_does_not_delete_themself(client, admin, auth) -> None:
    response = client.delete("/users/me", headers=auth(admin))

    assert response.status_code == 409
    assert response.get_json()["error"] == "conflict"
    assert client.get("/users/me", headers=auth(admin)).status_code == 200


@pytest.mark.parametrize("kind", ["stale", "personal"])
def test_self_deletion_needs_a_fresh_session(client, member, auth, age_sessions, kind) -> None:
    headers = auth(member)
    if kind == "personal":
        secret = client.post(
            "/users/me/tokens", json={"name": "ci", "scopes": ["profile"]}, headers=headers
        ).get_json()["token"]
        headers = bearer(secret)
    else:
        age_sessions(301)

    response = client.delete("/users/me", headers=headers)

    expected = (
        (401, "reauthentication_required") if kind == "stale" else (403, "insufficient_scope")
    )
    assert (response.status_code, response.get_json()["error"]) == expected
    assert client.get("/users/me", headers=auth(member)).status_code == 200


def test_an_admins_deletion_follows_the_same_rules(app, client, admin, member, auth) -> None:
    member_headers = auth(member)

    response = client.delete(f"/users/{member.id}", headers=auth(admin))

    assert response.status_code == 204
    assert client.get("/users/me", headers=member_headers).status_code == 401
    (notice,) = [m for m in outbox(app) if m.subject == "Your Gatehouse account was deleted"]
    assert notice.to == [member.email]
    assert "by an administrator" in notice.body
    trail = audit_text(app)
    assert member.email not in trail
    assert '"member"' not in trail
