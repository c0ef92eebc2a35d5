"""What roles grant is current in every worker of every process on the next request: a change
made through one server is obeyed by another at once, no session ended (two real gunicorn
processes on one database, each with its own per-process record of what roles grant)."""

import pytest

from tests.support.processes import call

pytestmark = pytest.mark.e2e

PASSWORD = "roles-e2e-passphrase"
USER_ROLE = ["bucketlists:read", "bucketlists:write", "profile", "users:read"]


@pytest.fixture(scope="module")
def servers(serve):
    return serve(WEB_CONCURRENCY="2"), serve(WEB_CONCURRENCY="2")


def login(server, username: str) -> str:
    status, _, body = call(
        server.base_url, "POST", "/login", {"username": username, "password": PASSWORD}
    )
    assert status == 200, body
    return body["access_token"]


def test_a_role_change_through_one_server_is_obeyed_by_another_at_once(servers, make_user) -> None:
    first, second = servers
    make_user("chief", roles=("admin",), password=PASSWORD)
    make_user("helper", password=PASSWORD)
    admin_token = login(first, "chief")
    helper_token = login(second, "helper")
    # Both workers of the second server have read what roles grant.
    before = [call(second.base_url, "GET", "/audit-events", token=helper_token) for _ in range(4)]

    widened = call(
        first.base_url,
        "PATCH",
        "/roles/user",
        {"permissions": [*USER_ROLE, "audit:read"]},
        token=admin_token,
    )
    after = [call(second.base_url, "GET", "/audit-events", token=helper_token) for _ in range(4)]
    narrowed = call(
        first.base_url, "PATCH", "/roles/user", {"permissions": USER_ROLE}, token=admin_token
    )
    again = [call(second.base_url, "GET", "/audit-events", token=helper_token) for _ in range(4)]

    assert [status for status, _, _ in before] == [403] * 4
    assert before[0][2]["details"] == {"permissions": ["audit:read"]}
    assert widened[0] == 200
    assert widened[2]["permissions"] == sorted([*USER_ROLE, "audit:read"])
    assert [status for status, _, _ in after] == [200] * 4
    assert all("items" in body for _, _, body in after)
    assert narrowed[0] == 200
    assert [status for status, _, _ in again] == [403] * 4
    me = call(second.base_url, "GET", "/users/me", token=helper_token)
    assert (me[0], me[2]["username"]) == (200, "helper")
