"""SQL statements per request: revocation checks ride on the user look-up; lists do not loop."""

import pytest


def test_an_authenticated_request_costs_one_statement(
    client, member, auth, counted_statements
) -> None:
    """The one statement that reads the user also sees the session ended: a logout is refused
    on the next request at the same cost."""
    headers = auth(member)
    # The first request after a change of roles (each test starts with one) reloads what roles
    # grant, once per process; every later request reads the version in its one statement.
    assert client.get("/users/me", headers=headers).status_code == 200

    with counted_statements() as live:
        response = client.get("/users/me", headers=headers)
    logout = client.post("/logout", headers=headers)
    with counted_statements() as ended:
        refused = client.get("/users/me", headers=headers)

    assert response.status_code == 200
    assert response.get_json()["username"] == "member"
    assert logout.status_code == 204
    assert refused.status_code == 401
    assert refused.get_json()["error"] == "token_revoked"
    assert (len(live), len(ended)) == (1, 1)
    assert "authorization_version" in live[0]


@pytest.mark.parametrize("path", ["/users", "/users/admin-only"])
def test_a_list_costs_the_same_statements_whatever_the_page_size(
    client, admin, make_user, auth, counted_statements, path
) -> None:
    for number in range(12):
        make_user(f"listed{number}")
    headers = auth(admin)

    counts = []
    for per_page in (5, 100):
        with counted_statements() as statements:
            response = client.get(f"{path}?per_page={per_page}", headers=headers)
        assert response.status_code == 200
        assert len(response.get_json()["items"]) == min(per_page, 13)
        counts.append(len(statements))

    # The token check, then the page with its total: the same two whatever the page size.
    assert counts == [2, 2]
