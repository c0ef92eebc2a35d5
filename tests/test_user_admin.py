"""Administration of accounts: create, change, delete, and the rules that protect admins."""

import threading

import pytest
from sqlalchemy import func, select, text

from app.extensions import db
from app.models import User
from tests.support.database import wait_until_a_statement_waits_for_a_lock

CREATED_PASSWORD = "amber-quarry-signal"
ADMIN_VIEW_EXTRAS = {"failed_login_count", "locked_until", "password_changed_at", "updated_at"}


def _new_user(**fields) -> dict:
    return {
        "username": "created",
        "email": "created@example.com",
        "password": CREATED_PASSWORD,
        **fields,
    }


def test_admin_creates_a_user_with_roles_and_status(client, admin, auth) -> None:
    body = _new_user(roles=["operator", "user"], is_active=False)

    response = client.post("/users", json=body, headers=auth(admin))

    assert response.status_code == 201
    created = response.get_json()
    assert response.headers["Location"] == f"/users/{created['id']}"
    assert created["roles"] == ["operator", "user"]
    assert created["is_active"] is False
    assert set(created) >= ADMIN_VIEW_EXTRAS
    assert "password" not in created


def test_created_user_defaults_to_an_active_user(client, admin, auth) -> None:
    response = client.post("/users", json=_new_user(), headers=auth(admin))

    assert response.status_code == 201
    assert response.get_json()["roles"] == ["user"]
    assert response.get_json()["is_active"] is True
    login = client.post("/login", json={"username": "created", "password": CREATED_PASSWORD})
    assert login.status_code == 200


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"roles": ["superuser"]}, "roles"),
        ({"roles": []}, "roles"),
        ({"roles": "admin"}, "roles"),
        ({"is_active": "maybe"}, "is_active"),
        ({"is_active": 1}, "is_active"),
        ({"token_version": 9}, "token_version"),
        ({"password": "created"}, "password"),
        ({"username": "x"}, "username"),
    ],
)
def test_create_user_validation(client, admin, auth, fields, field) -> None:
    response = client.post("/users", json=_new_user(**fields), headers=auth(admin))

    assert response.status_code == 422
    assert field in response.get_json()["details"]


def test_create_user_with_a_taken_email_is_409(client, admin, member, auth) -> None:
    response = client.post(
        "/users", json=_new_user(email=member.email.upper()), headers=auth(admin)
    )

    assert response.status_code == 409
    assert response.get_json()["details"] == {
        "email": ["That e-mail address is already registered."]
    }


def test_admin_changes_email_roles_and_status(client, admin, member, auth) -> None:
    response = client.patch(
        f"/users/{member.id}",
        json={"email": "renamed@example.com", "roles": ["operator"], "is_active": False},
        headers=auth(admin),
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["email"] == "renamed@example.com"
    assert body["roles"] == ["operator"]
    assert body["is_active"] is False


def test_patch_refuses_fields_outside_its_schema(client, admin, member, auth) -> None:
    response = client.patch(
        f"/users/{member.id}", json={"username": "renamed"}, headers=auth(admin)
    )

    assert response.status_code == 422
    assert response.get_json()["details"] == {"username": ["Unknown field."]}


def test_patch_to_an_email_someone_else_has_is_409(client, admin, member, auth) -> None:
    response = client.patch(
        f"/users/{member.id}", json={"email": "ADMIN@example.com"}, headers=auth(admin)
    )

    assert response.status_code == 409
    assert response.get_json()["error"] == "conflict"


def test_unknown_ids_are_404_for_patch_and_delete(client, admin, auth) -> None:
    headers = auth(admin)

    assert client.patch("/users/4242", json={}, headers=headers).status_code == 404
    response = client.delete("/users/4242", headers=headers)
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_delete_removes_the_account(app, client, admin, member, auth) -> None:
    response = client.delete(f"/users/{member.id}", headers=auth(admin))

    assert response.status_code == 204
    assert client.get(f"/users/{member.id}", headers=auth(admin)).status_code == 404
    with app.app_context():
        assert db.session.get(User, member.id) is None


def test_users_change_their_own_email_and_nothing_else(client, member, auth) -> None:
    headers = auth(member)

    changed = client.patch("/users/me", json={"email": "me@example.net"}, headers=headers)
    smuggled = client.patch(
        "/users/me", json={"email": "me2@example.net", "roles": ["admin"]}, headers=headers
    )

    assert changed.status_code == 200
    assert changed.get_json()["email"] == "me@example.net"
    assert smuggled.status_code == 422
    assert smuggled.get_json()["details"] == {"roles": ["Unknown field."]}
    me = client.get("/users/me", headers=headers).get_json()
    assert me["roles"] == ["user"]
    assert me["email"] == "me@example.net"


@pytest.mark.parametrize(
    ("change", "revoked"),
    [
        ({"roles": ["operator"]}, True),
        ({"is_active": False}, True),
        ({"email": "other@example.com"}, False),
        ({"roles": ["user"]}, False),
    ],
)
def test_role_and_status_changes_revoke_the_users_tokens(
    client, admin, member, make_user, auth, change, revoked
) -> None:
    bystander = make_user("bystander")
    member_headers, bystander_headers = auth(member), auth(bystander)

    assert client.patch(f"/users/{member.id}", json=change, headers=auth(admin)).status_code == 200

    after = client.get("/users/me", headers=member_headers)
    if revoked:
        assert after.status_code == 401
        assert after.get_json()["error"] == "token_revoked"
    else:
        assert after.status_code == 200
        assert after.get_json()["id"] == member.id
    assert client.get("/users/me", headers=bystander_headers).status_code == 200


def test_a_deactivated_user_cannot_get_a_new_token(client, admin, member, auth) -> None:
    client.patch(f"/users/{member.id}", json={"is_active": False}, headers=auth(admin))

    response = client.post("/login", json={"username": "member", "password": member.password})

    assert response.status_code == 403
    assert response.get_json()["error"] == "account_disabled"


def test_deletion_revokes_the_users_tokens(client, admin, member, auth) -> None:
    member_headers = auth(member)

    assert client.delete(f"/users/{member.id}", headers=auth(admin)).status_code == 204

    response = client.get("/users/me", headers=member_headers)
    assert response.status_code == 401
    assert response.get_json()["error"] == "token_revoked"


@pytest.mark.parametrize(
    ("method", "body"),
    [("PATCH", {"roles": ["user"]}), ("PATCH", {"is_active": False}), ("DELETE", None)],
)
def test_an_admin_cannot_demote_deactivate_or_delete_themself(
    client, admin, make_user, auth, method, body
) -> None:
    make_user("second", roles=("admin",))

    response = client.open(f"/users/{admin.id}", method=method, json=body, headers=auth(admin))

    assert response.status_code == 409
    assert response.get_json()["message"] == "You cannot demote, deactivate or delete yourself."
    assert client.get("/users/me", headers=auth(admin)).get_json()["roles"] == ["admin"]


def test_an_admin_may_still_change_their_own_email(client, admin, auth) -> None:
    response = client.patch(
        f"/users/{admin.id}",
        json={"email": "boss@example.com", "roles": ["admin"]},
        headers=auth(admin),
    )

    assert response.status_code == 200
    assert response.get_json()["email"] == "boss@example.com"


def test_the_last_active_admin_cannot_be_removed_with_a_stale_admin_token(
    app, client, admin, make_user, auth
) -> None:
    other = make_user("other", roles=("admin",))
    other_headers = auth(other)
    with app.app_context():
        # The other admin lost the role behind the API's back: ``admin`` is the last one.
        db.session.execute(
            text("UPDATE users SET roles = 'user' WHERE user_id = :id"), {"id": other.id}
        )
        db.session.commit()

    for method, body in [
        ("PATCH", {"roles": ["user"]}),
        ("PATCH", {"is_active": False}),
        ("DELETE", None),
    ]:
        response = client.open(
            f"/users/{admin.id}", method=method, json=body, headers=other_headers
        )
        # ``other``'s token still says admin, but what a request may do is read from the
        # account's roles now: the change is refused before the last admin is touched.
        assert response.status_code == 403
        assert response.get_json()["details"] == {"permissions": ["users:write"]}
    with app.app_context():
        assert db.session.get(User, admin.id).rolenames == ["admin"]
        assert db.session.get(User, admin.id).is_active is True


def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    app, client, make_user, auth
) -> None:
    """While A's demotion of B is uncommitted (row locks held), B demotes A; B's request must
    wait for A's transaction and then refuse: A is the last active admin."""
    admin_a = make_user("admin_a", roles=("admin",))
    admin_b = make_user("admin_b", roles=("admin",))
    b_headers = auth(admin_b)
    with app.app_context():
        engine = db.engine
    a_transaction = engine.connect()
    a_transaction.execute(
        text("SELECT user_id FROM users WHERE user_id IN (:a, :b) FOR UPDATE"),
        {"a": admin_a.id, "b": admin_b.id},
    )
    a_transaction.execute(
        text("UPDATE users SET roles = 'user' WHERE user_id = :b"), {"b": admin_b.id}
    )
    outcome = {}

    def b_demotes_a() -> None:
        outcome["response"] = client.patch(
            f"/users/{admin_a.id}", json={"roles": ["user"]}, headers=b_headers
        )

    racer = threading.Thread(target=b_demotes_a)
    racer.start()
    # B's request waits for A's row locks (PostgreSQL says so), and has not answered.
    wait_until_a_statement_waits_for_a_lock(engine)
    assert "response" not in outcome
    a_transaction.commit()
    a_transaction.close()
    racer.join(timeout=10)

    response = outcome["response"]
    assert response.status_code == 409
    assert response.get_json()["error"] == "conflict"
    with app.app_context():
        admins = db.session.scalar(
            select(func.count()).select_from(User).where(User.has_role("admin"), User.is_active)
        )
    assert admins == 1
