"""Filters and order of the user lists, and links that keep them."""

import pytest


@pytest.fixture
def crowd(make_user, admin):
    make_user("alice", roles=("user",))
    make_user("Bob", roles=("operator",))
    make_user("carol", roles=("user",), is_active=False)
    make_user("al_100%", roles=("user",))
    return admin


def _names(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item["username"] for item in response.get_json()["items"]]


def test_q_matches_part_of_the_username_ignoring_case(client, crowd, auth) -> None:
    assert _names(client.get("/users?q=aL_&sort=username", headers=auth(crowd))) == ["al_100%"]
    assert _names(client.get("/users?q=LIC&sort=username", headers=auth(crowd))) == ["alice"]


@pytest.mark.parametrize(
    ("q", "expected"), [("a", ["admin", "al_100%", "alice"]), ("AL", ["al_100%", "alice"])]
)
def test_a_q_of_one_or_two_characters_matches_the_start_of_usernames(
    client, crowd, auth, q, expected
) -> None:
    """One or two letters anywhere would match nearly everyone: they match the start."""
    response = client.get(f"/users?q={q}&sort=username", headers=auth(crowd))

    assert _names(response) == expected
    assert response.get_json()["_meta"]["total_items"] == len(expected)


def test_a_short_q_treats_like_wildcards_literally(client, crowd, auth, make_user) -> None:
    make_user("a_b")
    make_user("axb")

    assert _names(client.get("/users?q=a_&sort=username", headers=auth(crowd))) == ["a_b"]
    assert _names(client.get("/users?q=%25&sort=username", headers=auth(crowd))) == []


def test_q_treats_like_wildcards_literally(client, crowd, auth) -> None:
    assert _names(client.get("/users?q=00%25", headers=auth(crowd))) == ["al_100%"]
    assert _names(client.get("/users?q=l_1", headers=auth(crowd))) == ["al_100%"]


def test_role_filter(client, crowd, auth) -> None:
    assert _names(client.get("/users?role=operator", headers=auth(crowd))) == ["Bob"]
    assert _names(client.get("/users?role=admin", headers=auth(crowd))) == ["admin"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("username", ["admin", "al_100%", "alice", "Bob", "carol"]),
        ("-username", ["carol", "Bob", "alice", "al_100%", "admin"]),
        ("created_at", ["admin", "alice", "Bob", "carol", "al_100%"]),
        ("-created_at", ["al_100%", "carol", "Bob", "alice", "admin"]),
    ],
)
def test_sorts(client, crowd, auth, sort, expected) -> None:
    assert _names(client.get(f"/users?sort={sort}", headers=auth(crowd))) == expected


def test_staff_may_filter_on_is_active(client, crowd, make_user, auth) -> None:
    operator = make_user("op", roles=("operator",))

    inactive = client.get("/users/admin-only?is_active=false", headers=auth(operator))
    active = client.get("/users?is_active=true&role=user", headers=auth(crowd))

    assert _names(inactive) == ["carol"]
    assert _names(active) == ["alice", "al_100%"]


def test_plain_users_may_not_filter_on_is_active(client, crowd, make_user, auth) -> None:
    response = client.get("/users?is_active=false", headers=auth(make_user("plain")))

    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"


@pytest.mark.parametrize(
    "query",
    ["sort=password", "role=Root!", "is_active=perhaps", "q=" + "x" * 65, "page=\u0662"],
)
def test_bad_filters_are_400(client, crowd, auth, query) -> None:
    response = client.get(f"/users?{query}", headers=auth(crowd))

    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_request"


def test_pagination_links_keep_filters_and_sort(client, crowd, auth) -> None:
    response = client.get("/users?role=user&sort=-username&per_page=1&page=2", headers=auth(crowd))

    body = response.get_json()
    assert _names(response) == ["alice"]
    assert body["_meta"] == {"page": 2, "per_page": 1, "total_pages": 3, "total_items": 3}
    links = body["_links"]
    assert links["self"] == "/users?page=2&per_page=1&role=user&sort=-username"
    assert links["prev"] == "/users?page=1&per_page=1&role=user&sort=-username"
    assert links["first"] == "/users?page=1&per_page=1&role=user&sort=-username"
    assert links["next"].startswith("/users?page=3&per_page=1&role=user&sort=-username&cursor=")
    assert links["last"].startswith("/users?page=3&per_page=1&role=user&sort=-username&cursor=")
    last = client.get(links["last"], headers=auth(crowd)).get_json()
    assert [item["username"] for item in last["items"]] == ["al_100%"]
    assert last["_links"]["self"] == links["last"]


def test_an_empty_q_is_answered_not_refused(client, crowd, auth) -> None:
    """Contract v3: a short q is never 400; an empty one filters nothing."""
    response = client.get("/users?q=&sort=username", headers=auth(crowd))

    assert _names(response) == ["admin", "al_100%", "alice", "Bob", "carol"]
    assert response.get_json()["_meta"]["total_items"] == 5
