"""The audit trail: one event per account change, written in the change's own transaction."""

import json

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, User

EVENT_FIELDS = {
    "id",
    "at",
    "actor_id",
    "action",
    "target_id",
    "organization_id",
    "changes",
    "request_id",
    "server_request_id",
}


def _events(app, action=None) -> list[AuditEvent]:
    with app.app_context():
        statement = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            statement = statement.where(AuditEvent.action == action)
        return db.session.scalars(statement).all()


def _only_event(app, action, target_id=None) -> AuditEvent:
    events = [e for e in _events(app, action) if target_id in (None, e.target_id)]
    assert len(events) == 1, [event.action for event in _events(app)]
    return events[0]


def test_creation_by_an_admin(app, client, admin, auth) -> None:
    response = client.post(
        "/users",
        json={"username": "fresh", "email": "fresh@example.com", "password": "amber-quarry-signal"},
        headers={**auth(admin), "X-Request-ID": "create-1"},
    )

    assert response.status_code == 201
    assert response.get_json()["username"] == "fresh"
    event = _only_event(app, "user.created", target_id=response.get_json()["id"])
    assert event.actor_id == admin.id
    assert event.request_id == "create-1"
    assert event.changes == {
        "username": [None, "fresh"],
        "email": [None, "fresh@example.com"],
        "roles": [None, ["user"]],
        "is_active": [None, True],
    }


def test_self_registration_has_no_actor(app, client) -> None:
    response = client.post(
        "/register",
        json={"username": "selfmade", "email": "s@example.com", "password": "amber-quarry-signal"},
    )

    assert response.status_code == 201
    assert response.get_json()["username"] == "selfmade"
    event = _only_event(app, "user.created", target_id=response.get_json()["id"])
    assert event.actor_id is None
    assert event.changes["username"] == [None, "selfmade"]


@pytest.mark.parametrize(
    ("change", "action", "changes"),
    [
        (
            {"roles": ["operator", "user"]},
            "user.roles_changed",
            {"roles": [["user"], ["operator", "user"]]},
        ),
        ({"is_active": False}, "user.deactivated", {"is_active": [True, False]}),
        (
            {"email": "new@example.com"},
            "user.email_changed",
            {"email": ["member@example.com", "new@example.com"]},
        ),
    ],
)
def test_admin_changes(app, client, admin, member, auth, change, action, changes) -> None:
    response = client.patch(f"/users/{member.id}", json=change, headers=auth(admin))

    assert response.status_code == 200
    assert {field: response.get_json()[field] for field in change} == change
    event = _only_event(app, action)
    assert (event.actor_id, event.target_id, event.changes) == (admin.id, member.id, changes)


def test_activation(app, client, admin, make_user, auth) -> None:
    sleeper = make_user("sleeper", is_active=False)

    response = client.patch(f"/users/{sleeper.id}", json={"is_active": True}, headers=auth(admin))

    assert response.status_code == 200
    assert response.get_json()["is_active"] is True
    assert _only_event(app, "user.activated").changes == {"is_active": [False, True]}


def test_one_request_changing_three_fields_writes_three_events(
    app, client, admin, member, auth
) -> None:
    response = client.patch(
        f"/users/{member.id}",
        json={"roles": ["operator"], "is_active": False, "email": "x@example.com"},
        headers={**auth(admin), "X-Request-ID": "triple"},
    )

    assert response.status_code == 200
    body = response.get_json()
    assert (body["roles"], body["is_active"], body["email"]) == (
        ["operator"],
        False,
        "x@example.com",
    )
    events = [event for event in _events(app) if event.request_id == "triple"]
    assert sorted(event.action for event in events) == [
        "user.deactivated",
        "user.email_changed",
        "user.roles_changed",
    ]


def test_deletion(app, client, admin, member, auth) -> None:
    response = client.delete(f"/users/{member.id}", headers=auth(admin))

    assert response.status_code == 204
    assert response.get_data() == b""
    event = _only_event(app, "user.deleted")
    assert (event.actor_id, event.target_id) == (admin.id, member.id)
    # Contract v4: the trail keeps the id of a deleted account, none of its personal data.
    assert event.changes == {}
    creation = _only_event(app, "user.created", member.id)
    assert creation.target_id == member.id
    assert creation.changes["username"] == [None, None]
    assert creation.changes["email"] == [None, None]


def test_password_change_and_reset_never_record_the_password(app, client, member, auth) -> None:
    changed_now = client.put(
        "/users/me/password",
        json={"current_password": member.password, "new_password": "new-secret-pass"},
        headers=auth(member),
    )
    forgot = client.post("/password/forgot", json={"email": member.email})
    token = app.extensions["mailman"].outbox[-1].body.split("<pre>")[1].split("</pre>")[0]
    reset_now = client.post(
        "/password/reset", json={"token": token, "password": "newer-secret-pass"}
    )

    assert changed_now.status_code == 200
    assert changed_now.get_json()["token_type"] == "Bearer"
    assert forgot.status_code == 202
    assert forgot.get_json()["message"]
    assert reset_now.status_code == 204
    assert reset_now.get_data() == b""

    changed = _only_event(app, "user.password_changed")
    reset = _only_event(app, "user.password_reset")
    assert changed.actor_id == member.id
    assert reset.actor_id == member.id
    with app.app_context():
        stored_hash = db.session.get(User, member.id).password
    trail = json.dumps([event.changes for event in _events(app)])
    for secret in (member.password, "new-secret-pass", "newer-secret-pass", stored_hash, "argon2"):
        assert secret not in trail
    assert set(changed.changes) == {"password_changed_at"}


def test_lockout(app, client, member) -> None:
    failures = [
        client.post("/login", json={"username": "member", "password": "wrong-password-x"})
        for _ in range(5)
    ]

    assert [(failure.status_code, failure.get_json()["error"]) for failure in failures] == [
        (401, "invalid_credentials")
    ] * 5
    event = _only_event(app, "user.locked")
    assert event.actor_id is None
    assert event.target_id == member.id
    assert event.changes["locked_until"][0] is None


def test_logins_and_legacy_rehash_write_no_event(app, client, member, veteran) -> None:
    account, legacy_hash = veteran

    plain = client.post("/login", json={"username": "member", "password": member.password})
    rehashed = client.post("/login", json={"username": "veteran", "password": account.password})

    for login in (plain, rehashed):
        assert login.status_code == 200
        assert login.get_json()["token_type"] == "Bearer"
    with app.app_context():
        # The login did rehash: the trail stays silent about a hash that did change.
        rehashed_to = db.session.get(User, account.id).password
    assert rehashed_to != legacy_hash
    assert rehashed_to.startswith("$argon2id$")
    assert [(event.action, event.target_id) for event in _events(app)] == [
        ("user.created", member.id),
        ("user.created", account.id),
    ]


def test_a_rolled_back_change_leaves_no_event(app, member) -> None:
    with app.app_context():
        user = db.session.get(User, member.id)
        user.rolenames = ["operator"]
        db.session.flush()
        assert (
            db.session.scalar(
                select(AuditEvent.action).where(AuditEvent.action == "user.roles_changed")
            )
            == "user.roles_changed"
        )
        db.session.rollback()

    assert _events(app, "user.roles_changed") == []
    with app.app_context():
        assert db.session.get(User, member.id).roles == "user"


def test_refused_changes_write_no_event(app, client, admin, auth) -> None:
    response = client.patch(f"/users/{admin.id}", json={"roles": ["user"]}, headers=auth(admin))

    assert response.status_code == 409
    assert response.get_json()["error"] == "conflict"
    assert [event.action for event in _events(app)] == ["user.created"]


def test_audit_events_endpoint_lists_and_filters(
    app, client, admin, operator, member, auth
) -> None:
    promoted = client.patch(
        f"/users/{member.id}", json={"roles": ["operator"]}, headers=auth(admin)
    )
    deactivated = client.patch(
        f"/users/{member.id}", json={"is_active": False}, headers=auth(admin)
    )
    assert (promoted.status_code, promoted.get_json()["roles"]) == (200, ["operator"])
    assert (deactivated.status_code, deactivated.get_json()["is_active"]) == (200, False)

    everything = client.get("/audit-events", headers=auth(operator))
    filtered = client.get(
        f"/audit-events?target_id={member.id}&action=user.deactivated&per_page=1",
        headers=auth(operator),
    )

    assert everything.status_code == 200
    items = everything.get_json()["items"]
    assert [item["action"] for item in items[:2]] == ["user.deactivated", "user.roles_changed"]
    assert all(set(item) == EVENT_FIELDS for item in items)
    assert filtered.status_code == 200
    body = filtered.get_json()
    assert [item["action"] for item in body["items"]] == ["user.deactivated"]
    assert body["_meta"]["total_items"] == 1
    assert body["_links"]["self"] == (
        f"/audit-events?page=1&per_page=1&target_id={member.id}&action=user.deactivated"
    )
    by_actor = client.get(f"/audit-events?actor_id={admin.id}", headers=auth(admin))
    assert by_actor.status_code == 200
    assert [item["action"] for item in by_actor.get_json()["items"]] == [
        "user.deactivated",
        "user.roles_changed",
    ]
    assert {item["actor_id"] for item in by_actor.get_json()["items"]} == {admin.id}


def test_audit_filter_validation(client, admin, auth) -> None:
    response = client.get("/audit-events?action=user.exploded", headers=auth(admin))

    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_request"
    assert "action" in response.get_json()["details"]
