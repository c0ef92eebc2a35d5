"""Pages of every list: ``page=N`` and the cursors its links carry lead to the same items, in
every order, forwards and backwards; a cursor that is not one of the list's links for that page
is ignored (the page is found by its number)."""

import base64
import json
import sys

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models import Bucketlist, User
from app.pagination import count_of

USERS = [f"user{number:02d}" for number in range(11)]
ORDERS = {
    "username": sorted([*USERS, "admin"]),
    "-username": sorted([*USERS, "admin"], reverse=True),
    "created_at": ["admin", *USERS],
    "-created_at": [*reversed(USERS), "admin"],
}


@pytest.fixture
def crowd(make_user, admin):
    for name in USERS:
        make_user(name)
    return admin


def _get(client, headers, url) -> dict:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _names(body: dict) -> list[str]:
    return [item["username"] for item in body["items"]]


def _walk(client, headers, url: str, link: str) -> list[dict]:
    """The pages met following ``link`` from ``url`` to the end."""
    pages = []
    while url:
        pages.append(_get(client, headers, url))
        url = pages[-1]["_links"][link]
    return pages


@pytest.mark.parametrize("sort", ORDERS)
def test_next_links_walk_the_whole_list_once_in_order(client, crowd, auth, sort) -> None:
    pages = _walk(client, auth(crowd), f"/users?per_page=5&sort={sort}", "next")
    assert [name for body in pages for name in _names(body)] == ORDERS[sort]
    assert [body["_meta"]["page"] for body in pages] == [1, 2, 3]
    assert {body["_meta"]["total_items"] for body in pages} == {12}


@pytest.mark.parametrize("sort", ORDERS)
def test_prev_links_walk_back_from_the_last_page(client, crowd, auth, sort) -> None:
    headers = auth(crowd)
    last = _get(client, headers, f"/users?per_page=5&sort={sort}")["_links"]["last"]
    pages = _walk(client, headers, last, "prev")
    assert [name for body in reversed(pages) for name in _names(body)] == ORDERS[sort]
    assert [body["_meta"]["page"] for body in pages] == [3, 2, 1]


@pytest.mark.parametrize("sort", ORDERS)
def test_a_page_by_number_and_by_cursor_hold_the_same_items(client, crowd, auth, sort) -> None:
    headers = auth(crowd)
    page_two = _get(client, headers, f"/users?per_page=4&sort={sort}")["_links"]["next"]
    by_cursor = _get(client, headers, page_two)
    by_number = _get(client, headers, f"/users?per_page=4&page=2&sort={sort}")
    assert _names(by_cursor) == _names(by_number) == ORDERS[sort][4:8]
    assert by_cursor["_meta"] == by_number["_meta"]
    assert _get(client, headers, by_cursor["_links"]["next"])["_links"]["next"] is None


def test_the_last_link_holds_what_is_left_over(client, crowd, auth) -> None:
    body = _get(client, auth(crowd), "/users?per_page=5")
    last = _get(client, auth(crowd), body["_links"]["last"])
    assert _names(last) == ORDERS["created_at"][10:]
    assert last["_meta"] == {"page": 3, "per_page": 5, "total_pages": 3, "total_items": 12}
    assert last["_links"]["next"] is None
    assert last["_links"]["self"] == body["_links"]["last"]


def test_filters_are_kept_and_applied_by_cursor_links(client, crowd, make_user, auth) -> None:
    make_user("outsider", roles=("operator",))
    headers = auth(crowd)
    body = _get(client, headers, "/users?per_page=4&role=user&q=user0")
    assert body["_meta"]["total_items"] == 10
    following = _get(client, headers, body["_links"]["next"])
    assert "role=user" in body["_links"]["next"]
    assert "q=user0" in body["_links"]["next"]
    assert _names(following) == [f"user0{number}" for number in range(4, 8)]


def _cursor(data) -> str:
    text = json.dumps(data).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def _real_cursor(client, headers, url) -> str:
    link = _get(client, headers, url)["_links"]["next"]
    return link.split("cursor=")[1]


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!",
        "0",
        _cursor([1, 2]),
        _cursor({"o": "x", "p": 2, "k": [1]}),
        _cursor({"p": 2, "k": [1]}),
        _cursor({"o": "x", "p": 0, "k": [1]}),
        _cursor({"o": "x", "p": "2", "k": [1]}),
        _cursor({"o": "x", "p": 2, "k": [1], "l": 1}),
        _cursor({"o": "x", "p": 2}),
        _cursor({"o": "x", "p": 2, "k": [1], "z": 1}),
    ],
)
def test_a_cursor_that_is_not_a_link_of_the_list_is_ignored(client, crowd, auth, cursor) -> None:
    headers = auth(crowd)
    body = _get(client, headers, f"/users?per_page=5&page=2&cursor={cursor}")
    assert _names(body) == ORDERS["created_at"][5:10]
    assert body["_meta"]["page"] == 2


def test_a_cursor_too_long_to_be_ours_is_400(client, crowd, auth) -> None:
    response = client.get(f"/users?cursor={'x' * 600}", headers=auth(crowd))
    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_request"
    assert "cursor" in response.get_json()["details"]


def test_a_cursor_of_another_order_page_or_kind_of_key_is_ignored(client, crowd, auth) -> None:
    headers = auth(crowd)
    by_name = _real_cursor(client, headers, "/users?per_page=5&sort=username")
    body = _get(client, headers, f"/users?per_page=5&page=2&cursor={by_name}")
    assert _names(body) == ORDERS["created_at"][5:10]
    # The page the link names, not the one an edited URL names, is what the cursor finds.
    body = _get(client, headers, f"/users?per_page=5&page=3&sort=username&cursor={by_name}")
    assert _names(body) == ORDERS["username"][10:]

    by_date = _real_cursor(client, headers, "/users?per_page=5")
    body, tag = by_date.split(".")
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    for keys in (["yesterday", 1], [1, 1], ["2026-01-01T00:00:00+00:00", "1"], [], None):
        for forged in (_cursor({**data, "k": keys}), _cursor({**data, "k": keys}) + "." + tag):
            body = _get(client, headers, f"/users?per_page=5&page=2&cursor={forged}")
            assert _names(body) == ORDERS["created_at"][5:10], keys


def test_an_edited_cursor_of_the_right_order_and_page_is_ignored(client, crowd, auth) -> None:
    """A cursor names the row its page starts after: one whose row was changed (keeping its
    order and page, and its signature) would label other rows as that page."""
    headers = auth(crowd)
    link = _get(client, headers, "/users?per_page=5")["_links"]["next"]
    cursor = link.split("cursor=")[1]
    body, tag = cursor.split(".")
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    later_row = [data["k"][0], data["k"][1] + 3]
    edited = _cursor({**data, "k": later_row}) + "." + tag

    followed = _get(client, headers, link)
    tampered = _get(client, headers, f"/users?per_page=5&page=2&cursor={edited}")

    assert _names(followed) == ORDERS["created_at"][5:10]
    assert _names(tampered) == ORDERS["created_at"][5:10]


def test_links_keep_the_mount_prefix_like_item_links(client, crowd, auth) -> None:
    """Under a prefix (``SCRIPT_NAME``), page links and item links agree."""
    response = client.get(
        "/users?per_page=5", headers=auth(crowd), environ_overrides={"SCRIPT_NAME": "/api"}
    )
    body = response.get_json()
    assert body["items"][0]["_links"]["self"].startswith("/api/users/")
    for name in ("self", "first", "next", "last"):
        assert body["_links"][name].startswith("/api/users?page="), name
    following = client.get(
        body["_links"]["next"].removeprefix("/api"),
        headers=auth(crowd),
        environ_overrides={"SCRIPT_NAME": "/api"},
    )
    assert _names(following.get_json()) == ORDERS["created_at"][5:10]


def test_every_list_takes_cursors(client, member, auth) -> None:
    headers = auth(member)
    for number in range(3):
        created = client.post("/bucketlists", json={"name": f"list{number}"}, headers=headers)
        assert created.status_code == 201
    lists = _get(client, headers, "/bucketlists?per_page=2")
    following = _get(client, headers, lists["_links"]["next"])
    assert [item["name"] for item in following["items"]] == ["list2"]
    bucketlist_id = lists["items"][0]["id"]
    for number in range(3):
        client.post(
            f"/bucketlists/{bucketlist_id}/items", json={"title": f"t{number}"}, headers=headers
        )
    items = _get(client, headers, f"/bucketlists/{bucketlist_id}/items?per_page=2")
    assert [item["title"] for item in _get(client, headers, items["_links"]["next"])["items"]] == [
        "t2"
    ]


def test_a_distinct_list_counts_its_rows_not_one(app, make_user) -> None:
    """Counting a ``.distinct()`` statement counts its distinct rows (a count that selected a
    constant kept the DISTINCT and answered 1)."""
    for number in range(3):
        make_user(f"counted{number}")
    with app.app_context():
        for owner_id in (1, 1, 2, 2):
            db.session.add(Bucketlist(owner_id=owner_id, name="a list"))
        db.session.commit()
        owners = select(User).join(Bucketlist, Bucketlist.owner_id == User.user_id).distinct()
        assert db.session.scalar(select(count_of(owners))) == 2
        assert db.session.scalar(select(count_of(select(User).distinct()))) == 3
        # Counting stops one past the limit.
        assert db.session.scalar(select(count_of(select(User), exact_up_to=1))) == 2


# Past the production thresholds (10,000 rows: walk.DEEP, user_list.FEW and
# user_list.EXACT_TEXT_MATCHES), so the paths for big lists run as they do in production.
BULK = 10_050


@pytest.fixture
def thousands(app, admin):
    """``BULK`` users (bulk00001...) beside the admin, in one statement; their names in each
    list order, computed here."""
    with app.app_context():
        db.session.execute(
            text(
                "INSERT INTO users (username, email, password) "
                "SELECT 'bulk' || lpad(n::text, 5, '0'), 'bulk' || n || '@example.org', 'x' "
                "FROM generate_series(1, :count) AS n"
            ),
            {"count": BULK},
        )
        db.session.commit()
        db.session.execute(text("ANALYZE users"))
        rows = db.session.execute(select(User.username, User.created_datetime, User.user_id)).all()
    by_name = sorted(row.username.lower() for row in rows)
    by_creation = [row.username for row in sorted(rows, key=lambda row: row[1:])]
    return {
        "username": by_name,
        "-username": by_name[::-1],
        "created_at": by_creation,
        "-created_at": by_creation[::-1],
    }


@pytest.fixture
def spy(monkeypatch):
    """``spy(module, name)``: the calls of that function, which still does its work."""

    def watch(module, name: str) -> list:
        calls = []
        real = getattr(module, name)

        def recorded(*args, **kwargs):
            calls.append((args, kwargs))
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, recorded)
        return calls

    return watch


def test_a_text_filter_matching_many_reports_an_estimate(client, admin, auth, thousands) -> None:
    headers = auth(admin)

    exact = _get(client, headers, "/users?q=bulk0000&per_page=5")
    estimated = _get(client, headers, "/users?q=bulk&per_page=5")

    assert exact["_meta"]["total_items"] == 9
    assert "total_is_estimate" not in exact["_meta"]
    assert estimated["_meta"]["total_is_estimate"] is True
    assert estimated["_meta"]["total_items"] > 1_000
    assert _names(estimated) == thousands["created_at"][1:6]


@pytest.mark.parametrize("sort", ["username", "-created_at"])
def test_pages_far_in_are_walked_from_the_nearer_end(
    client, admin, auth, thousands, spy, sort
) -> None:
    """Past ``DEEP`` rows, a page in the second half of the list is walked to from its end, and
    one past the end is not walked to at all: the same pages as the list's order."""
    headers = auth(admin)
    walks = spy(sys.modules["app.pagination.walk"], "from_nearer_end")
    reads = spy(sys.modules["app.pagination.walk"], "at_offset")
    total = BULK + 1
    near, deep, past = 3, 2005, total // 5 + 2

    pages = {
        page: _get(client, headers, f"/users?per_page=5&page={page}&sort={sort}")
        for page in (near, deep, past)
    }

    assert _names(pages[near]) == thousands[sort][10:15]
    assert _names(pages[deep]) == thousands[sort][10_020:10_025]
    assert _names(pages[past]) == []
    assert {body["_meta"]["total_items"] for body in pages.values()} == {total}
    # The deep page and the page past the end went through the nearer-end walk, the near one
    # did not; the deep page was read backwards from the end, the one past the end not read.
    assert [args[1] for args, _ in walks] == [10_020, (past - 1) * 5]
    assert [kwargs.get("reverse", False) for _, kwargs in reads] == [False, True]


@pytest.mark.parametrize(
    ("query", "few"), [("role=admin", True), ("role=user", False), ("is_active=true", False)]
)
def test_rare_and_common_filters_find_the_list_order(
    client, admin, auth, thousands, spy, query, few
) -> None:
    """A filter few users match is read through its own index (set apart and sorted there); a
    common one in the list's order: either way, the list's own order."""
    set_apart = spy(sys.modules["app.models.user_list"], "sorted_apart")
    expected = ["admin"] if query == "role=admin" else thousands["username"]
    if query == "role=user":
        expected = [name for name in expected if name != "admin"]

    first = _get(client, auth(admin), f"/users?per_page=4&sort=username&{query}")

    assert _names(first) == expected[:4]
    assert first["_meta"]["total_items"] == len(expected)
    assert bool(set_apart) is few


def test_pages_far_in_by_number_are_limited_per_user_and_links_are_not(
    make_app, admin, auth, thousands
) -> None:
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_DEEP_PAGES="2 per minute")
    client = app.test_client()
    headers = auth(admin)
    # Offset 10,000: not past DEEP, never limited.
    for _ in range(3):
        assert (
            _names(_get(client, headers, "/users?per_page=5&page=2001"))
            == thousands["created_at"][10_000:10_005]
        )
    for _ in range(2):
        assert _get(client, headers, "/users?per_page=5&page=2002")["_meta"]["page"] == 2002
    refused = client.get("/users?per_page=5&page=2002", headers=headers)
    assert refused.status_code == 429
    assert refused.get_json()["error"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    # Following links costs the same at any depth: never limited.
    link = _get(client, headers, "/users?per_page=5&page=2001")["_links"]["next"]
    for _ in range(4):
        body = _get(client, headers, link)
        assert _names(body) == thousands["created_at"][10_005:10_010]


@pytest.mark.parametrize(
    "extra", ["bucketlist_id=999", "_scheme=gopher", "_external=1", "_anchor=x", "nonsense=1"]
)
def test_unknown_query_parameters_never_reach_the_links(client, member, auth, extra) -> None:
    """Links are built from what the list's schema loaded: a parameter it does not know is
    ignored, never passed to url_for (a route argument twice was a 500, ``_scheme`` too, and
    ``_external`` made every link absolute, built from the Host header)."""
    headers = auth(member)
    created = client.post("/bucketlists", json={"name": "mine"}, headers=headers).get_json()
    for title in ("one", "two", "three"):
        client.post(f"/bucketlists/{created['id']}/items", json={"title": title}, headers=headers)
    url = f"/bucketlists/{created['id']}/items?per_page=2&done=false&{extra}"

    response = client.get(url, headers=headers)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [item["title"] for item in body["items"]] == ["one", "two"]
    links = body["_links"]
    assert links["self"] == f"/bucketlists/{created['id']}/items?page=1&per_page=2&done=false"
    for name in ("self", "first", "next", "last"):
        assert links[name].startswith(f"/bucketlists/{created['id']}/items?page="), name
        assert extra.split("=")[0] not in links[name], name
    assert [item["title"] for item in _get(client, headers, links["next"])["items"]] == ["three"]


def test_a_page_number_of_other_scripts_digits_is_400(client, member, auth) -> None:
    """Python reads "\\u0662" as 2; a page number is ASCII digits."""
    for query in ("page=\u0662", "per_page=\u0665", "page=\uff12"):
        response = client.get(f"/bucketlists?{query}", headers=auth(member))

        assert response.status_code == 400, query
        assert response.get_json()["error"] == "bad_request"
        assert set(response.get_json()["details"]) == {query.split("=")[0]}
