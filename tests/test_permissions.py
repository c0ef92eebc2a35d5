"""Who may call which user route: one table, every route x anonymous/user/operator/admin."""

import pytest

# (method, path, body): {caller: expected status}. "{target}" is a plain user who is not the
# caller; "{self}" is the caller's own id.
MATRIX = {
    ("GET", "/users", None): {"anonymous": 401, "user": 200, "operator": 200, "admin": 200},
    ("POST", "/users", "new_user"): {"anonymous": 401, "user": 403, "operator": 403, "admin": 201},
    ("GET", "/users/me", None): {"anonymous": 401, "user": 200, "operator": 200, "admin": 200},
    ("PATCH", "/users/me", "new_email"): {
        "anonymous": 401,
        "user": 200,
        "operator": 200,
        "admin": 200,
    },
    ("PUT", "/users/me/password", "password_change"): {
        "anonymous": 401,
        "user": 200,
        "operator": 200,
        "admin": 200,
    },
    ("GET", "/users/admin-only", None): {
        "anonymous": 401,
        "user": 403,
        "operator": 200,
        "admin": 200,
    },
    ("GET", "/users/{target}", None): {
        "anonymous": 401,
        "user": 200,
        "operator": 200,
        "admin": 200,
    },
    ("PATCH", "/users/{target}", "new_email"): {
        "anonymous": 401,
        "user": 403,
        "operator": 403,
        "admin": 200,
    },
    ("DELETE", "/users/{target}", None): {
        "anonymous": 401,
        "user": 403,
        "operator": 403,
        "admin": 204,
    },
    ("GET", "/audit-events", None): {"anonymous": 401, "user": 403, "operator": 200, "admin": 200},
}

CASES = [
    (method, path, body, caller, status)
    for (method, path, body), expected in MATRIX.items()
    for caller, status in expected.items()
]


@pytest.mark.parametrize(("method", "path", "body", "caller", "expected"), CASES)
def test_permission_matrix(client, make_user, auth, method, path, body, caller, expected) -> None:
    target = make_user("target")
    account = None if caller == "anonymous" else make_user(f"{caller}x", roles=(caller,))
    bodies = {
        "new_user": {
            "username": "created",
            "email": "created@example.com",
            "password": "amber-quarry-signal",
        },
        "new_email": {"email": f"changed-{caller}@example.com"},
        "password_change": {
            "current_password": account.password if account else "whatever",
            "new_password": "a-new-password-1",
        },
    }
    headers = auth(account) if account else {}
    url = path.format(target=target.id, self=account.id if account else 0)

    response = client.open(url, method=method, json=bodies.get(body), headers=headers)

    assert response.status_code == expected, response.get_json()
    if expected == 204:
        assert response.get_data() == b""
    elif expected >= 400:
        error = response.get_json()["error"]
        assert error == {401: "missing_token", 403: "forbidden"}[expected]
    else:
        answer = response.get_json()
        assert "error" not in answer
        assert SUCCESS[(method, path)](answer, account, bodies.get(body)), answer


def _names(page: dict) -> set[str]:
    return {item["username"] for item in page["items"]}


# What each allowed call answers (the caller and "target" are the only accounts).
SUCCESS = {
    ("GET", "/users"): lambda answer, account, _: _names(answer) == {"target", account.username},
    ("POST", "/users"): lambda answer, _, sent: answer["username"] == sent["username"],
    ("GET", "/users/me"): lambda answer, account, _: answer["username"] == account.username,
    ("PATCH", "/users/me"): lambda answer, _, sent: answer["email"] == sent["email"],
    ("PUT", "/users/me/password"): lambda answer, *_: answer["token_type"] == "Bearer",
    ("GET", "/users/admin-only"): lambda answer, account, _: (
        _names(answer) == {"target", account.username}
        and all("failed_login_count" in item for item in answer["items"])
    ),
    ("GET", "/users/{target}"): lambda answer, account, _: (
        answer["username"] == "target"
        # The public view to a user, the admin view to staff.
        and ("failed_login_count" in answer) is (account.roles != ["user"])
        and ("email" in answer) is (account.roles != ["user"])
    ),
    ("PATCH", "/users/{target}"): lambda answer, _, sent: answer["email"] == sent["email"],
    ("GET", "/audit-events"): lambda answer, *_: (
        [item["action"] for item in answer["items"]] == ["user.created", "user.created"]
    ),
}
