"""Bucketlists: owners and admins only (others get 404), validation, lists and cascades."""

import pytest
from sqlalchemy import func, select, text

from app.access.ownership import owned
from app.api.blueprint import Blueprint
from app.extensions import db
from app.models import Bucketlist, BucketlistItem
from tests.support.errors import without_request_id


@pytest.fixture
def owner(make_user):
    return make_user("owner")


@pytest.fixture
def owned_list(client, owner, auth):
    headers = auth(owner)
    created = client.post("/bucketlists", json={"name": "Travel"}, headers=headers).get_json()
    item = client.post(
        f"/bucketlists/{created['id']}/items", json={"title": "Lisbon"}, headers=headers
    ).get_json()
    return created["id"], item["id"]


ROUTES = [
    ("GET", "/bucketlists/{list}", None, 200),
    ("PATCH", "/bucketlists/{list}", {"name": "Renamed"}, 200),
    ("GET", "/bucketlists/{list}/items", None, 200),
    ("POST", "/bucketlists/{list}/items", {"title": "Porto"}, 201),
    ("PATCH", "/bucketlists/{list}/items/{item}", {"done": True}, 200),
    ("DELETE", "/bucketlists/{list}/items/{item}", None, 204),
    ("DELETE", "/bucketlists/{list}", None, 204),
]
# Who gets what on someone's bucketlist: the owner and admins succeed, others see nothing.
CALLERS = {"owner": "success", "other": 404, "operator": 404, "admin": "success", "anonymous": 401}


@pytest.mark.parametrize(("method", "path", "body", "success"), ROUTES)
@pytest.mark.parametrize("caller", list(CALLERS))
def test_access_table(
    client, owner, owned_list, make_user, auth, method, path, body, success, caller
) -> None:
    accounts = {
        "owner": owner,
        "other": make_user("other"),
        "operator": make_user("op", roles=("operator",)),
        "admin": make_user("boss", roles=("admin",)),
    }
    expected = success if CALLERS[caller] == "success" else CALLERS[caller]
    headers = auth(accounts[caller]) if caller in accounts else {}
    url = path.format(list=owned_list[0], item=owned_list[1])

    response = client.open(url, method=method, json=body, headers=headers)

    assert response.status_code == expected, response.get_json()
    if expected == 204:
        assert response.get_data() == b""
    elif expected >= 400:
        assert response.get_json()["error"] == {401: "missing_token", 404: "not_found"}[expected]
    else:
        answer = response.get_json()
        if "items" in answer:
            assert answer["items"][0]["bucketlist_id"] == owned_list[0]
        else:
            assert owned_list[0] in (answer["id"], answer.get("bucketlist_id"))
            assert {field: answer[field] for field in body or {}} == (body or {})
    # What the owner finds afterwards: the change made, or nothing changed at all.
    unchanged = ("Travel", [("Lisbon", False)])
    after_success = {
        ("PATCH", "/bucketlists/{list}"): ("Renamed", [("Lisbon", False)]),
        ("POST", "/bucketlists/{list}/items"): ("Travel", [("Lisbon", False), ("Porto", False)]),
        ("PATCH", "/bucketlists/{list}/items/{item}"): ("Travel", [("Lisbon", True)]),
        ("DELETE", "/bucketlists/{list}/items/{item}"): ("Travel", []),
        ("DELETE", "/bucketlists/{list}"): None,
    }
    made = expected == success and (method, path) in after_success
    assert _as_the_owner_sees_it(client, auth(owner), owned_list[0]) == (
        after_success[(method, path)] if made else unchanged
    )


def _as_the_owner_sees_it(client, headers, list_id: int):
    """The list's name and its items (title, done), or None when it is gone."""
    found = client.get(f"/bucketlists/{list_id}", headers=headers)
    if found.status_code == 404:
        return None
    assert found.status_code == 200
    items = client.get(f"/bucketlists/{list_id}/items", headers=headers)
    assert items.status_code == 200
    return found.get_json()["name"], [
        (item["title"], item["done"]) for item in items.get_json()["items"]
    ]


@pytest.mark.parametrize("caller", ["owner", "other", "admin"])
def test_lists_show_own_bucketlists_and_admins_see_all(
    client, owner, owned_list, make_user, auth, caller
) -> None:
    accounts = {
        "owner": owner,
        "other": make_user("other"),
        "admin": make_user("boss", roles=("admin",)),
    }
    headers = auth(accounts["other"])
    client.post("/bucketlists", json={"name": "Other's"}, headers=headers)

    response = client.get("/bucketlists", headers=auth(accounts[caller]))

    assert response.status_code == 200
    names = [item["name"] for item in response.get_json()["items"]]
    assert (
        names == {"owner": ["Travel"], "other": ["Other's"], "admin": ["Travel", "Other's"]}[caller]
    )


def test_admin_filters_by_owner_and_others_may_not(
    client, owner, owned_list, make_user, auth
) -> None:
    admin = make_user("boss", roles=("admin",))
    other = make_user("other")

    mine = client.get(f"/bucketlists?owner_id={owner.id}", headers=auth(admin))
    refused = client.get(f"/bucketlists?owner_id={owner.id}", headers=auth(other))
    own_filter = client.get(f"/bucketlists?owner_id={owner.id}", headers=auth(owner))

    assert mine.status_code == 200
    assert [item["name"] for item in mine.get_json()["items"]] == ["Travel"]
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "forbidden"
    assert own_filter.status_code == 200
    assert [item["name"] for item in own_filter.get_json()["items"]] == ["Travel"]


def test_create_returns_201_location_and_links(client, owner, auth) -> None:
    response = client.post(
        "/bucketlists", json={"name": "Books", "description": "To read"}, headers=auth(owner)
    )

    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/bucketlists/{body['id']}"
    assert body["owner_id"] == owner.id
    assert body["description"] == "To read"
    assert body["_links"] == {
        "self": f"/bucketlists/{body['id']}",
        "items": f"/bucketlists/{body['id']}/items",
        "owner": f"/users/{owner.id}",
    }
    assert body["created_at"].endswith("+00:00")


def test_item_create_defaults_and_links(client, owner, owned_list, auth) -> None:
    response = client.post(
        f"/bucketlists/{owned_list[0]}/items", json={"title": "Faro"}, headers=auth(owner)
    )

    assert response.status_code == 201
    item = response.get_json()
    assert item["done"] is False
    assert response.headers["Location"] == f"/bucketlists/{owned_list[0]}/items/{item['id']}"
    assert item["_links"]["bucketlist"] == f"/bucketlists/{owned_list[0]}"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "n" * 201}, "name"),
        ({"name": "ok", "description": "d" * 2001}, "description"),
        ({"name": "ok", "owner_id": 1}, "owner_id"),
        ({"name": "ok", "id": 5}, "id"),
        ({}, "name"),
    ],
)
def test_bucketlist_validation(client, owner, auth, body, field) -> None:
    response = client.post("/bucketlists", json=body, headers=auth(owner))

    assert response.status_code == 422
    assert field in response.get_json()["details"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "n"}, 201),
        ({"name": "n" * 200}, 201),
        ({"name": "ok", "description": "d" * 2000}, 201),
        ({"name": "ok", "description": None}, 201),
    ],
)
def test_bucketlist_boundaries_accepted(client, owner, auth, body, status) -> None:
    response = client.post("/bucketlists", json=body, headers=auth(owner))

    assert response.status_code == status
    assert response.get_json()["name"] == body["name"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "t" * 201}, "title"),
        ({"title": "x", "done": "maybe"}, "done"),
        ({"title": "x", "done": 0}, "done"),
        ({"title": "x", "done": "true"}, "done"),
        ({"title": "x", "bucketlist_id": 9}, "bucketlist_id"),
    ],
)
def test_item_validation(client, owner, owned_list, auth, body, field) -> None:
    response = client.post(f"/bucketlists/{owned_list[0]}/items", json=body, headers=auth(owner))

    assert response.status_code == 422
    assert field in response.get_json()["details"]


def test_item_ids_are_scoped_to_their_bucketlist(client, owner, owned_list, auth) -> None:
    headers = auth(owner)
    second = client.post("/bucketlists", json={"name": "Second"}, headers=headers).get_json()

    response = client.patch(
        f"/bucketlists/{second['id']}/items/{owned_list[1]}", json={"done": True}, headers=headers
    )

    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_patch_changes_only_what_is_sent(client, owner, owned_list, auth) -> None:
    headers = auth(owner)
    client.patch(f"/bucketlists/{owned_list[0]}", json={"description": "Summer"}, headers=headers)

    response = client.patch(
        f"/bucketlists/{owned_list[0]}", json={"name": "Trips"}, headers=headers
    )

    assert response.status_code == 200
    assert response.get_json()["name"] == "Trips"
    assert response.get_json()["description"] == "Summer"


def test_items_list_filters_on_done_and_paginates(client, owner, owned_list, auth) -> None:
    headers = auth(owner)
    list_id = owned_list[0]
    for title in ("Rome", "Oslo", "Kyoto"):
        client.post(
            f"/bucketlists/{list_id}/items",
            json={"title": title, "done": title != "Oslo"},
            headers=headers,
        )

    done = client.get(f"/bucketlists/{list_id}/items?done=true&per_page=1&page=2", headers=headers)
    pending = client.get(f"/bucketlists/{list_id}/items?done=false", headers=headers)

    assert (done.status_code, pending.status_code) == (200, 200)
    body = done.get_json()
    assert [item["title"] for item in body["items"]] == ["Kyoto"]
    assert body["_meta"] == {"page": 2, "per_page": 1, "total_pages": 2, "total_items": 2}
    assert body["_links"]["prev"] == f"/bucketlists/{list_id}/items?page=1&per_page=1&done=true"
    assert [item["title"] for item in pending.get_json()["items"]] == ["Lisbon", "Oslo"]


def test_bucketlist_q_filters_on_name(client, owner, owned_list, auth) -> None:
    headers = auth(owner)
    created = client.post("/bucketlists", json={"name": "Books 100%"}, headers=headers)

    by_name = client.get("/bucketlists?q=TRAV", headers=headers)
    by_percent = client.get("/bucketlists?q=%25", headers=headers)

    assert created.status_code == 201
    assert by_name.status_code == by_percent.status_code == 200
    assert [item["name"] for item in by_name.get_json()["items"]] == ["Travel"]
    # The % is a character searched for, not a wildcard.
    assert [item["name"] for item in by_percent.get_json()["items"]] == ["Books 100%"]


def test_deleting_a_user_deletes_their_bucketlists_in_the_database(app, owner, owned_list) -> None:
    with app.app_context():
        db.session.execute(text("DELETE FROM users WHERE user_id = :id"), {"id": owner.id})
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Bucketlist)) == 0
        assert db.session.scalar(select(func.count()).select_from(BucketlistItem)) == 0


def test_deleting_a_user_through_the_api_deletes_their_bucketlists(
    app, client, owner, owned_list, make_user, auth
) -> None:
    admin = make_user("boss", roles=("admin",))

    assert client.delete(f"/users/{owner.id}", headers=auth(admin)).status_code == 204

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Bucketlist)) == 0


def test_deleting_a_bucketlist_deletes_its_items_in_the_database(app, owned_list) -> None:
    with app.app_context():
        db.session.execute(text("DELETE FROM bucketlists WHERE id = :id"), {"id": owned_list[0]})
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(BucketlistItem)) == 0


@pytest.mark.parametrize("path", ["/bucketlists", "/bucketlists/{list}/items"])
def test_lists_cost_the_same_statements_whatever_the_page_size(
    client, owner, owned_list, auth, counted_statements, path
) -> None:
    headers = auth(owner)
    for number in range(6):
        client.post("/bucketlists", json={"name": f"L{number}"}, headers=headers)
        client.post(
            f"/bucketlists/{owned_list[0]}/items", json={"title": f"I{number}"}, headers=headers
        )
    counts = []
    for per_page in (2, 100):
        with counted_statements() as statements:
            response = client.get(
                f"{path.format(list=owned_list[0])}?per_page={per_page}", headers=headers
            )
        assert response.status_code == 200
        assert len(response.get_json()["items"]) == min(per_page, 7)
        counts.append(len(statements))

    assert counts[0] == counts[1]


def test_a_new_view_under_owned_gets_the_owners_bucketlist_and_hides_it_from_others(
    make_app, owner, owned_list, make_user, auth
) -> None:
    """``@owned`` as a new resource uses it (its own app: a route added to the shared one would
    outlive the test): the view is given the object; anyone else reads the 404 of its model."""
    blp = Blueprint("owned_probe", __name__, url_prefix="/owned-probe")

    @blp.route("/<int:bucketlist_id>")
    @blp.auth_required("bucketlists:read")
    @owned(Bucketlist, "bucketlist_id", "bucketlist")
    @blp.response(200)
    def probe(bucketlist):
        """The bucketlist's name."""
        return {"name": bucketlist.name, "owner_id": bucketlist.owner_id}

    app = make_app()
    app.register_blueprint(blp)
    client = app.test_client()
    list_id, _item_id = owned_list

    by_owner = client.get(f"/owned-probe/{list_id}", headers=auth(owner))
    by_other = client.get(f"/owned-probe/{list_id}", headers=auth(make_user("other")))
    missing = client.get("/owned-probe/999999", headers=auth(owner))

    assert by_owner.status_code == 200
    assert by_owner.get_json() == {"name": "Travel", "owner_id": owner.id}
    for refused in (by_other, missing):
        assert refused.status_code == 404
        assert without_request_id(refused.get_json()) == {
            "error": "not_found",
            "message": "No bucketlist has that id.",
            "status": 404,
        }
