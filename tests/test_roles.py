"""Role checks: who may call what, from one table."""

import pytest

ROUTES_BY_ROLE = {
    # path: {role: expected status}
    "/users": {"user": 200, "operator": 200, "admin": 200},
    "/users/me": {"user": 200, "operator": 200, "admin": 200},
    "/users/admin-only": {"user": 403, "operator": 200, "admin": 200},
}


@pytest.mark.parametrize(
    ("path", "role", "expected"),
    [
        (path, role, status)
        for path, roles in ROUTES_BY_ROLE.items()
        for role, status in roles.items()
    ],
)
def test_role_matrix(client, make_user, auth, path, role, expected) -> None:
    account = make_user(f"{role}1", roles=(role,))

    response = client.get(path, headers=auth(account))

    assert response.status_code == expected
    body = response.get_json()
    if expected == 403:
        assert body["error"] == "forbidden"
        assert body["message"] == "This needs the permission users:inspect."
        assert body["details"] == {"permissions": ["users:inspect"]}
    elif path == "/users/me":
        assert body["username"] == account.username
        assert body["roles"] == [role]
    else:
        # The caller is the only account: the list holds them alone (admin-only in the admin
        # view).
        assert [item["username"] for item in body["items"]] == [account.username]
        assert body["_meta"]["total_items"] == 1
        assert ("failed_login_count" in body["items"][0]) is (path == "/users/admin-only")


def test_roles_are_read_from_the_token_only_while_it_is_current(
    app, client, make_user, auth
) -> None:
    """A promoted user's new role shows once a new token is issued; old tokens are not trusted
    to carry roles the user no longer has (a role change ends the user's sessions)."""
    account = make_user("climber", roles=("user",))
    old_headers = auth(account)
    admin_headers = auth(make_user("boss", roles=("admin",)))
    promoted = client.patch(
        f"/users/{account.id}", json={"roles": ["operator"]}, headers=admin_headers
    )
    assert promoted.status_code == 200

    assert client.get("/users/admin-only", headers=old_headers).status_code == 401
    response = client.get("/users/admin-only", headers=auth(account))
    assert response.status_code == 200
    assert response.get_json()["items"][0]["roles"] == ["operator"]
