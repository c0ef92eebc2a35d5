"""Roles and permissions as data (contract v4): the catalog and its check at start, roles made,
changed and deleted through the API, never beyond what the one who does it holds, accounts given
custom roles, what a token may do, and the checks other services ask."""

import pytest
from sqlalchemy import delete, func, select

from app.access import permissions, roles
from app.access.permissions import verify_catalog
from app.config import ConfigError
from app.extensions import db
from app.models import (
    AuditEvent,
    Bucketlist,
    PersonalToken,
    Role,
    RolePermission,
    StoredPermission,
    User,
)
from app.models.columns import utcnow
from app.tokens import personal
from tests.support.errors import without_request_id

SUPPORT = {
    "name": "support",
    "description": "Support staff: read users and the audit trail.",
    "permissions": ["users:read", "users:inspect", "audit:read"],
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_role(client, headers, **changes):
    return client.post("/roles", json={**SUPPORT, **changes}, headers=headers)


def events(app, action: str) -> list[dict]:
    with app.app_context():
        return db.session.scalars(
            select(AuditEvent.changes).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).all()


def role_names(app) -> list[str]:
    with app.app_context():
        return db.session.scalars(select(Role.name).order_by(Role.name)).all()


@pytest.fixture
def admin_headers(admin, auth):
    return auth(admin)


def test_the_catalog_lists_every_permission_with_what_it_allows(client, member, auth) -> None:
    response = client.get("/permissions?per_page=100", headers=auth(member))

    body = response.get_json()
    assert response.status_code == 200
    listed = {item["name"]: item["description"] for item in body["items"]}
    assert listed == {name: p.description for name, p in permissions.CATALOG.items()}
    assert body["_meta"]["total_items"] == len(permissions.CATALOG)
    assert [item["name"] for item in body["items"]] == sorted(listed)


def test_a_permission_declared_but_not_migrated_stops_the_start(app) -> None:
    permissions.declare("reports:read", "Read the reports.")
    try:
        with app.app_context(), pytest.raises(ConfigError) as refused:
            verify_catalog()
    finally:
        del permissions.CATALOG["reports:read"]

    assert "declared in code but not in the database: reports:read" in str(refused.value)


def test_a_permission_declared_again_alike_is_the_same_and_differently_is_refused() -> None:
    """Two modules may declare the permission they both guard with: the same name, description
    and ``within``. Anything else is a mistake, refused as the second module is imported."""
    before = dict(permissions.CATALOG)
    declared = before["users:inspect"]

    again = permissions.declare(declared.name, declared.description, within=declared.within)
    with pytest.raises(RuntimeError) as reworded:
        permissions.declare("users:inspect", "See every account.", within="users:read")
    with pytest.raises(RuntimeError) as within_dropped:
        permissions.declare(declared.name, declared.description)

    assert again == "users:inspect"
    message = "The permission users:inspect is declared twice, differently."
    assert str(reworded.value) == str(within_dropped.value) == message
    assert before == permissions.CATALOG
    assert permissions.CATALOG["users:inspect"] == permissions.Permission(
        "users:inspect",
        "See every account's details: the admin view of users, their sessions and personal tokens.",
        within="users:read",
    )


def test_a_permission_migrated_but_declared_nowhere_stops_the_start(app) -> None:
    with app.app_context():
        db.session.add(StoredPermission(name="ghost:haunt", description="Nothing."))
        db.session.commit()
        with pytest.raises(ConfigError) as refused:
            verify_catalog()

    assert "in the database but declared nowhere in code: ghost:haunt" in str(refused.value)


def test_a_server_does_not_start_while_the_catalog_differs(app, make_app) -> None:
    with app.app_context():
        db.session.execute(delete(StoredPermission).where(StoredPermission.name == "roles:manage"))
        db.session.commit()

    with pytest.raises(ConfigError, match="declared in code but not in the database: roles:manage"):
        make_app(CHECK_PERMISSIONS_AT_START=True)


def test_the_built_in_roles_grant_exactly_their_former_access(client, member, auth) -> None:
    response = client.get("/roles", headers=auth(member))

    body = response.get_json()
    assert response.status_code == 200
    roles = {item["name"]: item for item in body["items"]}
    assert set(roles) == {"admin", "operator", "user"}
    assert roles["admin"]["permissions"] == sorted(permissions.CATALOG)
    assert roles["operator"]["permissions"] == [
        "audit:read",
        "bucketlists:read",
        "bucketlists:write",
        "profile",
        "users:inspect",
        "users:read",
    ]
    assert roles["user"]["permissions"] == [
        "bucketlists:read",
        "bucketlists:write",
        "profile",
        "users:read",
    ]
    assert all(role["built_in"] for role in roles.values())


def test_a_role_is_made_audited_and_shown(app, client, admin_headers) -> None:
    response = make_role(client, admin_headers)

    body = response.get_json()
    assert response.status_code == 201
    assert response.headers["Location"] == "/roles/support"
    assert body == {**SUPPORT, "permissions": sorted(SUPPORT["permissions"]), "built_in": False}
    assert client.get("/roles/support", headers=admin_headers).get_json() == body
    assert events(app, "role.created") == [
        {"role": [None, "support"], "permissions": [None, sorted(SUPPORT["permissions"])]}
    ]


def test_a_role_may_grant_nothing(client, admin_headers) -> None:
    response = make_role(client, admin_headers, name="guest", permissions=[])

    assert response.status_code == 201
    assert response.get_json()["permissions"] == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "Support"}, "name"),
        ({"name": "s"}, "name"),
        ({"name": "9lives"}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"permissions": ["users:read", "root:everything"]}, "permissions"),
        ({"permissions": "users:read"}, "permissions"),
    ],
)
def test_a_bad_role_is_refused_and_nothing_is_made(
    app, client, admin_headers, payload, field
) -> None:
    response = make_role(client, admin_headers, **payload)

    body = response.get_json()
    assert response.status_code == 422
    assert body["error"] == "validation_error"
    assert field in body["details"]
    assert role_names(app) == ["admin", "operator", "user"]


def test_a_taken_name_is_409(client, admin_headers) -> None:
    assert make_role(client, admin_headers).status_code == 201

    again = make_role(client, admin_headers)
    built_in = make_role(client, admin_headers, name="operator")

    for response in (again, built_in):
        assert response.status_code == 409
        assert response.get_json()["error"] == "conflict"


def custom_role(app, name: str, granted: list[str], *holders) -> None:
    """A role made behind the API's back (as a migration or a seed would), held by
    ``holders`` besides their roles."""
    with app.app_context():
        role = Role(name=name, description="")
        role.grants = [RolePermission(permission=permission) for permission in granted]
        db.session.add(role)
        for holder in holders:
            user = db.session.get(User, holder.id)
            user.rolenames = [*user.rolenames, name]
        roles.moved_on()
        db.session.commit()


def test_nobody_makes_a_role_with_a_permission_they_lack(app, client, make_user, auth) -> None:
    manager = make_user("manager")
    custom_role(app, "role-manager", ["roles:manage", "users:read"], manager)
    headers = auth(manager)

    beyond = make_role(client, headers)
    within = make_role(client, headers, name="reader", permissions=["users:read", "profile"])

    assert beyond.status_code == 403
    assert beyond.get_json()["error"] == "forbidden"
    assert beyond.get_json()["details"] == {"permissions": ["audit:read", "users:inspect"]}
    assert within.status_code == 201
    assert within.get_json()["permissions"] == ["profile", "users:read"]
    assert role_names(app) == ["admin", "operator", "reader", "role-manager", "user"]


def test_nobody_edits_or_deletes_a_role_holding_a_permission_they_lack(
    app, client, make_user, auth
) -> None:
    manager = make_user("manager")
    custom_role(app, "role-manager", ["roles:manage", "users:read", "profile"], manager)
    custom_role(app, "auditor", ["audit:read"])
    headers = auth(manager)

    edited = client.patch("/roles/auditor", json={"permissions": []}, headers=headers)
    deleted = client.delete("/roles/auditor", headers=headers)
    widened = client.patch(
        "/roles/user",
        json={"permissions": ["profile", "users:read", "audit:read"]},
        headers=headers,
    )

    for response in (edited, deleted):
        assert response.status_code == 403
        assert response.get_json()["details"] == {"permissions": ["audit:read"]}
    assert widened.status_code == 403
    assert widened.get_json()["details"] == {"permissions": ["audit:read"]}
    assert client.get("/roles/auditor", headers=headers).get_json()["permissions"] == ["audit:read"]


def test_a_role_change_is_obeyed_on_the_next_request_and_ends_no_session(
    app, client, admin_headers, make_user, auth
) -> None:
    helper = make_user("helper")
    helper_headers = auth(helper)
    assert client.get("/audit-events", headers=helper_headers).status_code == 403

    widened = client.patch(
        "/roles/user",
        json={
            "permissions": [
                "profile",
                "users:read",
                "bucketlists:read",
                "bucketlists:write",
                "audit:read",
            ]
        },
        headers=admin_headers,
    )
    allowed = client.get("/audit-events", headers=helper_headers)
    narrowed = client.patch(
        "/roles/user",
        json={"permissions": ["profile", "users:read", "bucketlists:read", "bucketlists:write"]},
        headers=admin_headers,
    )
    refused = client.get("/audit-events", headers=helper_headers)

    assert widened.status_code == 200
    assert allowed.status_code == 200
    assert "items" in allowed.get_json()
    assert narrowed.status_code == 200
    assert refused.status_code == 403
    assert refused.get_json()["details"] == {"permissions": ["audit:read"]}
    assert client.get("/users/me", headers=helper_headers).status_code == 200
    assert [change["permissions"] for change in events(app, "role.updated")] == [
        [
            ["bucketlists:read", "bucketlists:write", "profile", "users:read"],
            ["audit:read", "bucketlists:read", "bucketlists:write", "profile", "users:read"],
        ],
        [
            ["audit:read", "bucketlists:read", "bucketlists:write", "profile", "users:read"],
            ["bucketlists:read", "bucketlists:write", "profile", "users:read"],
        ],
    ]


def test_built_in_roles_keep_their_names_and_admin_its_permissions(
    app, client, admin_headers
) -> None:
    answers = [
        client.patch("/roles/operator", json={"name": "staff"}, headers=admin_headers),
        client.patch("/roles/admin", json={"permissions": ["profile"]}, headers=admin_headers),
        client.delete("/roles/user", headers=admin_headers),
        client.delete("/roles/admin", headers=admin_headers),
    ]

    for response in answers:
        assert response.status_code == 409
        assert response.get_json()["error"] == "conflict"
    assert role_names(app) == ["admin", "operator", "user"]
    assert events(app, "role.updated") == []


def test_a_role_an_account_has_is_not_deleted(app, client, admin_headers, make_user) -> None:
    make_role(client, admin_headers)
    holder = make_user("holder", roles=("user", "support"))

    in_use = client.delete("/roles/support", headers=admin_headers)
    with app.app_context():
        db.session.get(User, holder.id).rolenames = ["user"]
        db.session.commit()
    unused = client.delete("/roles/support", headers=admin_headers)

    assert in_use.status_code == 409
    assert "still have this role" in in_use.get_json()["message"]
    assert unused.status_code == 204
    assert role_names(app) == ["admin", "operator", "user"]
    assert events(app, "role.deleted") == [
        {"role": ["support", None], "permissions": [sorted(SUPPORT["permissions"]), None]}
    ]


def test_a_failed_change_changes_nothing(app, client, admin_headers) -> None:
    make_role(client, admin_headers)

    response = client.patch(
        "/roles/support",
        json={"description": "changed", "permissions": ["users:read", "nope:nope"]},
        headers=admin_headers,
    )

    assert response.status_code == 422
    assert response.get_json()["details"] == {
        "permissions": {"1": ["No such permission: nope:nope (GET /permissions)."]}
    }
    shown = client.get("/roles/support", headers=admin_headers).get_json()
    assert shown["description"] == SUPPORT["description"]
    assert shown["permissions"] == sorted(SUPPORT["permissions"])


def test_renaming_a_custom_role_keeps_its_holders_access(
    app, client, admin_headers, make_user, auth
) -> None:
    make_role(client, admin_headers)
    holder = make_user("holder", roles=("user", "support"))
    headers = auth(holder)

    renamed = client.patch("/roles/support", json={"name": "helpdesk"}, headers=admin_headers)
    audit = client.get("/audit-events", headers=headers)

    assert renamed.status_code == 200
    assert renamed.get_json()["name"] == "helpdesk"
    assert audit.status_code == 200
    with app.app_context():
        assert db.session.get(User, holder.id).rolenames == ["user", "helpdesk"]


def test_a_custom_role_is_given_to_an_account_and_its_sessions_end(
    app, client, admin_headers, make_user, auth
) -> None:
    make_role(client, admin_headers)
    agent = make_user("agent")
    old = auth(agent)

    given = client.patch(
        f"/users/{agent.id}", json={"roles": ["user", "support"]}, headers=admin_headers
    )
    new = auth(agent)

    assert given.status_code == 200
    assert given.get_json()["roles"] == ["user", "support"]
    assert client.get("/users/me", headers=old).status_code == 401
    assert client.get("/audit-events", headers=new).status_code == 200
    assert client.get(f"/users/{agent.id}", headers=new).get_json()["failed_login_count"] == 0
    assert events(app, "user.roles_changed")[-1] == {"roles": [["user"], ["user", "support"]]}


def test_an_unknown_role_is_422_and_changes_nothing(app, client, admin_headers, member) -> None:
    given = client.patch(
        f"/users/{member.id}", json={"roles": ["user", "wizard"]}, headers=admin_headers
    )
    created = client.post(
        "/users",
        json={
            "username": "newbie",
            "email": "newbie@example.com",
            "password": "a-long-new-passphrase",
            "roles": ["wizard"],
        },
        headers=admin_headers,
    )

    for response in (given, created):
        assert response.status_code == 422
        assert response.get_json()["details"] == {"roles": ["No such role: wizard (GET /roles)."]}
    with app.app_context():
        assert db.session.get(User, member.id).rolenames == ["user"]
        assert db.session.scalar(select(func.count()).select_from(User)) == 2


def test_nobody_grants_a_role_carrying_a_permission_they_lack(app, client, make_user, auth) -> None:
    custom_role(app, "people-admin", ["users:read", "users:write"])
    boss = make_user("boss", roles=("user", "people-admin"))
    clerk = make_user("clerk")
    headers = auth(boss)

    to_operator = client.patch(f"/users/{clerk.id}", json={"roles": ["operator"]}, headers=headers)
    make_admin = client.post(
        "/users",
        json={
            "username": "second",
            "email": "second@example.com",
            "password": "a-long-new-passphrase",
            "roles": ["admin"],
        },
        headers=headers,
    )
    as_user = client.patch(f"/users/{clerk.id}", json={"is_active": False}, headers=headers)

    assert to_operator.status_code == 403
    assert to_operator.get_json()["details"] == {"permissions": ["audit:read", "users:inspect"]}
    assert make_admin.status_code == 403
    assert "roles:manage" in make_admin.get_json()["details"]["permissions"]
    assert as_user.status_code == 200
    assert as_user.get_json()["is_active"] is False


def test_nobody_changes_or_deletes_an_account_holding_more_than_they_do(
    app, client, make_user, auth
) -> None:
    custom_role(app, "people-admin", ["users:read", "users:write", "profile"])
    boss = make_user("boss", roles=("people-admin",))
    operator = make_user("staffer", roles=("operator",))
    headers = auth(boss)

    answers = [
        client.patch(f"/users/{operator.id}", json={"is_active": False}, headers=headers),
        client.delete(f"/users/{operator.id}", headers=headers),
        client.delete(f"/users/{operator.id}/mfa", headers=headers),
    ]

    for response in answers:
        assert response.status_code == 403
        assert response.get_json()["details"] == {
            "permissions": ["audit:read", "bucketlists:read", "bucketlists:write", "users:inspect"]
        }
    with app.app_context():
        assert db.session.get(User, operator.id).is_active is True


def test_a_deactivated_account_holds_no_permission(app, client, admin_headers, make_user) -> None:
    idle = make_user("idle", roles=("operator",), is_active=False)

    response = client.post(
        "/authz/check",
        json={"checks": [{"permission": "audit:read", "user_id": idle.id}]},
        headers=admin_headers,
    )

    assert response.status_code == 200
    assert response.get_json() == {"results": [{"allowed": False, "reason": "not_granted"}]}


def test_my_permissions_are_what_this_token_may_use(app, client, member, auth) -> None:
    session = client.get("/users/me/permissions", headers=auth(member))
    with app.app_context():
        secret, stored = personal.mint()
        db.session.add(
            PersonalToken(
                user_id=member.id,
                name="ci",
                scopes=["bucketlists:read", "audit:read"],
                digest=stored,
                expires_at=utcnow().replace(year=utcnow().year + 1),
            )
        )
        db.session.commit()
    token = client.get("/users/me/permissions", headers=bearer(secret))

    assert session.status_code == 200
    assert session.get_json() == {
        "platform": ["bucketlists:read", "bucketlists:write", "profile", "users:read"],
        "organizations": [],
    }
    assert token.status_code == 200
    assert token.get_json() == {"platform": ["bucketlists:read"], "organizations": []}


def test_checks_are_answered_in_order(client, member, auth) -> None:
    checks = [
        {"permission": "profile"},
        {"permission": "audit:read"},
        {"permission": "bucketlists:write"},
        {"permission": "users:write"},
    ]

    response = client.post("/authz/check", json={"checks": checks}, headers=auth(member))

    assert response.status_code == 200
    assert [result["allowed"] for result in response.get_json()["results"]] == [
        True,
        False,
        True,
        False,
    ]
    assert {result["reason"] for result in response.get_json()["results"]} == {
        "granted",
        "not_granted",
    }


@pytest.mark.parametrize("count", [0, 101])
def test_zero_or_more_than_100_checks_are_422(client, member, auth, count) -> None:
    response = client.post(
        "/authz/check",
        json={"checks": [{"permission": "profile"}] * count},
        headers=auth(member),
    )

    assert response.status_code == 422
    assert "checks" in response.get_json()["details"]


def test_an_unknown_permission_in_a_check_is_422(client, member, auth) -> None:
    response = client.post(
        "/authz/check",
        json={"checks": [{"permission": "profile"}, {"permission": "cake:eat"}]},
        headers=auth(member),
    )

    assert response.status_code == 422
    assert response.get_json()["details"] == {
        "checks": {"1": {"permission": ["No such permission: cake:eat (GET /permissions)."]}}
    }


def test_a_check_reveals_nothing_a_caller_may_not_see(app, client, make_user, auth) -> None:
    owner = make_user("owner")
    asker = make_user("asker")
    with app.app_context():
        listed = Bucketlist(owner_id=owner.id, name="private")
        db.session.add(listed)
        db.session.commit()
        list_id = listed.id

    response = client.post(
        "/authz/check",
        json={
            "checks": [
                {"permission": "bucketlists:read", "bucketlist_id": list_id},
                {"permission": "bucketlists:read", "bucketlist_id": 999999},
                {"permission": "bucketlists:read", "bucketlist_id": list_id, "user_id": owner.id},
                {"permission": "profile", "user_id": 999999},
                {"permission": "profile", "organization_id": 1},
            ]
        },
        headers=auth(asker),
    )
    mine = client.post(
        "/authz/check",
        json={"checks": [{"permission": "bucketlists:write", "bucketlist_id": list_id}]},
        headers=auth(owner),
    )

    assert response.status_code == 200
    assert response.get_json()["results"] == [{"allowed": False, "reason": "not_granted"}] * 5
    assert mine.get_json()["results"] == [{"allowed": True, "reason": "granted"}]


def test_staff_ask_about_other_users(client, admin_headers, make_user) -> None:
    operator = make_user("staffer", roles=("operator",))
    member = make_user("plain")

    response = client.post(
        "/authz/check",
        json={
            "checks": [
                {"permission": "audit:read", "user_id": operator.id},
                {"permission": "audit:read", "user_id": member.id},
                {"permission": "users:read", "user_id": member.id},
            ]
        },
        headers=admin_headers,
    )

    assert response.status_code == 200
    assert [result["allowed"] for result in response.get_json()["results"]] == [
        True,
        False,
        True,
    ]


def test_a_hundred_checks_cost_two_statements(client, member, auth, counted_statements) -> None:
    """Two beyond the token's own statement, however many checks (the authorization version is
    the one the token's statement read, not read again)."""
    headers = auth(member)
    checks = [
        {"permission": "bucketlists:read", "bucketlist_id": number} for number in range(1, 51)
    ] + [{"permission": "profile", "user_id": number} for number in range(1, 51)]
    assert client.post("/authz/check", json={"checks": checks}, headers=headers).status_code == 200

    with counted_statements() as statements:
        response = client.post("/authz/check", json={"checks": checks}, headers=headers)

    assert response.status_code == 200
    assert len(response.get_json()["results"]) == 100
    assert len(statements) == 1 + 2


def test_role_decorators_still_check_role_names(make_app, make_user, auth) -> None:
    from app.api.blueprint import Blueprint

    blp = Blueprint("role_probe", __name__, url_prefix="/role-probe")

    @blp.route("/admins")
    @blp.roles_required("admin")
    @blp.response(200)
    def admins_only():
        """Admins."""
        return {"ok": True}

    @blp.route("/staff")
    @blp.roles_accepted("admin", "operator", permission="audit:read")
    @blp.response(200)
    def staff_only():
        """Staff."""
        return {"ok": True}

    app = make_app()
    app.register_blueprint(blp)
    client = app.test_client()
    admin, operator, user = (
        make_user(name, roles=(name,)) for name in ("admin", "operator", "user")
    )

    assert client.get("/role-probe/admins", headers=auth(admin)).get_json() == {"ok": True}
    refused = client.get("/role-probe/admins", headers=auth(operator))
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "forbidden"
    assert client.get("/role-probe/staff", headers=auth(operator)).status_code == 200
    assert client.get("/role-probe/staff", headers=auth(user)).status_code == 403


def test_a_refused_role_names_in_its_message_every_permission_its_maker_lacks(
    app, client, make_user, auth
) -> None:
    manager = make_user("manager")
    custom_role(app, "role-manager", ["roles:manage", "users:read", "profile"], manager)
    headers = auth(manager)

    two = make_role(client, headers)
    one = make_role(client, headers, name="auditor", permissions=["audit:read"])

    assert (two.status_code, one.status_code) == (403, 403)
    assert without_request_id(two.get_json()) == {
        "error": "forbidden",
        "message": "This needs the permissions audit:read, users:inspect.",
        "status": 403,
        "details": {"permissions": ["audit:read", "users:inspect"]},
    }
    assert without_request_id(one.get_json()) == {
        "error": "forbidden",
        "message": "This needs the permission audit:read.",
        "status": 403,
        "details": {"permissions": ["audit:read"]},
    }


def test_a_role_granting_read_all_alone_sees_everyones_bucketlists_but_changes_none(
    app, client, make_user, auth
) -> None:
    owner, reader = make_user("owner"), make_user("reader")
    custom_role(app, "lister", ["bucketlists:read", "bucketlists:read_all"], reader)
    made = client.post("/bucketlists", json={"name": "Trips"}, headers=auth(owner))

    seen = client.get(f"/bucketlists/{made.get_json()['id']}", headers=auth(reader))
    renamed = client.patch(
        f"/bucketlists/{made.get_json()['id']}", json={"name": "Mine"}, headers=auth(reader)
    )

    assert made.status_code == 201
    assert seen.status_code == 200
    assert (seen.get_json()["name"], seen.get_json()["owner_id"]) == ("Trips", owner.id)
    assert renamed.status_code == 403
    assert without_request_id(renamed.get_json()) == {
        "error": "forbidden",
        "message": "This needs the permission bucketlists:write_all.",
        "status": 403,
        "details": {"permissions": ["bucketlists:write_all"]},
    }


def test_a_role_granting_write_all_alone_sees_and_changes_everyones_bucketlists(
    app, client, make_user, auth
) -> None:
    owner, editor = make_user("owner"), make_user("editor")
    custom_role(app, "fixer", ["bucketlists:read", "bucketlists:write_all"], editor)
    made = client.post("/bucketlists", json={"name": "Trips"}, headers=auth(owner))

    seen = client.get(f"/bucketlists/{made.get_json()['id']}", headers=auth(editor))
    renamed = client.patch(
        f"/bucketlists/{made.get_json()['id']}", json={"name": "Fixed"}, headers=auth(editor)
    )

    assert made.status_code == 201
    assert seen.status_code == 200
    assert (seen.get_json()["name"], seen.get_json()["owner_id"]) == ("Trips", owner.id)
    assert renamed.status_code == 200
    assert renamed.get_json()["name"] == "Fixed"
    with app.app_context():
        assert db.session.get(Bucketlist, made.get_json()["id"]).name == "Fixed"
