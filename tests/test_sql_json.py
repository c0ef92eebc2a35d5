"""The public user list is written by PostgreSQL (``app.schemas.sql_json``): its body must be byte
for byte what marshmallow's dump written by the JSON provider would be, for any row."""

from datetime import UTC, datetime

import pytest
from marshmallow import Schema, fields, pre_dump
from sqlalchemy import select, text, update

from app.extensions import db
from app.models import User
from app.pagination import page_response
from app.schemas.common import UtcDateTime
from app.schemas.sql_json import compile_json_sql
from app.schemas.user import PublicUserPageSchema, PublicUserSchema


def marshmallow_page(app, response, base_url="http://localhost/") -> bytes:
    """What the provider writes for the page in ``response``: its envelope, and its users
    (in the same order) dumped by marshmallow itself from the ORM."""
    page = response.get_json()
    with app.test_request_context(base_url=base_url):
        users = [db.session.get(User, item["id"]) for item in page["items"]]
        items = [Schema.dump(PublicUserSchema(), user) for user in users]
        return app.json.response({**page, "items": items}).get_data()


def set_created(app, user_id: int, when: str) -> None:
    with app.app_context():
        db.session.execute(
            text("UPDATE users SET created_datetime = :when WHERE user_id = :id"),
            {"when": when, "id": user_id},
        )
        db.session.commit()


@pytest.fixture
def crowd(app, make_user, member):
    """Users whose rows exercise the timestamp format: microseconds, a year below 1000, a time
    written in another zone."""
    users = [make_user(name) for name in ("ada", "Grace_H", "linus.t", "x-99")]
    set_created(app, users[0].id, "2020-11-22 10:30:15.999999+00")
    set_created(app, users[1].id, "0999-01-02 03:04:05+00")
    set_created(app, users[2].id, "2026-03-29 01:59:59.5+05:30")
    return member


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?sort=username",
        "?sort=-created_at&per_page=2",
        "?sort=-username&page=2&per_page=2",
        "?q=a&per_page=3",
        "?role=user",
        "?page=99",
        "?q=zzz&role=admin",
        "?q=a&page=9",
    ],
)
def test_the_public_list_is_what_marshmallow_would_write(app, client, crowd, auth, query):
    response = client.get(f"/users{query}", headers=auth(crowd))
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.data == marshmallow_page(app, response)
    page = response.get_json()
    totals = {"?q=a&per_page=3": 2, "?q=a&page=9": 2, "?q=zzz&role=admin": 0}
    assert page["_meta"]["total_items"] == totals.get(query, 5)
    if "page=9" in query or "zzz" in query:
        assert page["items"] == []


def test_the_rows_are_written_by_the_database(
    app, client, crowd, auth, counted_statements, monkeypatch
):
    """The page's items come from the database as JSON texts and are spliced in, unparsed."""
    monkeypatch.setattr("app.pagination.json", None)
    headers = auth(crowd)
    with counted_statements() as statements:
        response = client.get("/users?sort=username&per_page=2", headers=headers)
    assert response.status_code == 200
    assert len(statements) == 2
    assert "to_json(users.username)" in statements[1]
    assert "array_to_string(array((SELECT" in statements[1]
    assert response.data.endswith(
        b'"items":[{"_links":{"self":"/users/2"},"created_at":"2020-11-22T10:30:15+00:00",'
        b'"id":2,"username":"ada"},{"_links":{"self":"/users/3"},'
        b'"created_at":"0999-01-02T03:04:05+00:00","id":3,"username":"Grace_H"}]}\n'
    )


def test_links_follow_the_mount_point(app, client, crowd, auth):
    response = client.get("/users", headers=auth(crowd), base_url="http://localhost/gate/")
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [item["_links"]["self"] for item in items] == [
        f"/gate/users/{user_id}" for user_id in (3, 2, 4, 1, 5)
    ]
    assert response.data == marshmallow_page(app, response, "http://localhost/gate/")


@pytest.mark.parametrize(
    "username",
    [
        'quote"back\\slash/solidus',
        "control\x01\x1f\b\f\n\r\tchars",
        "ünïcödé ✓",
        "delete\x7f",
    ],
)
def test_any_text_is_written_as_the_provider_would(app, client, make_user, auth, username):
    """Usernames are ASCII letters, digits and ``_.-`` through the API; rows written otherwise
    must still come out right: escapes the database writes like the provider, and non-ASCII or
    DEL (which it writes raw) through the provider itself."""
    viewer = make_user("viewer")
    make_user(username)
    response = client.get("/users", headers=auth(viewer))
    assert response.status_code == 200
    assert response.get_json()["items"][1]["username"] == username
    assert response.data == marshmallow_page(app, response)
    assert response.data.isascii()


def test_a_debug_app_writes_the_page_indented(app, client, crowd, auth):
    app.debug = True
    response = client.get("/users", headers=auth(crowd))
    assert response.status_code == 200
    assert b'\n  "items": [\n    {\n      "_links": {' in response.data
    assert response.data == marshmallow_page(app, response)


class EveryKind(Schema):
    """One field of each kind the database writes, nullable columns included."""

    id = fields.Integer(attribute="user_id")
    name = fields.String(attribute="username")
    email = fields.String()
    active = fields.Boolean(attribute="is_active")
    failures = fields.Integer(attribute="failed_login_count")
    last_login_at = UtcDateTime()
    locked_until = UtcDateTime(allow_none=True)
    created_at = UtcDateTime(attribute="created_datetime")


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/St_Johns"])
def test_every_kind_of_field_whatever_the_session_time_zone(app, make_user, zone):
    """The database writes times in UTC whatever its session's time zone, and NULL as null."""
    make_user("never.in", is_active=False)
    make_user("often.in", failed_login_count=3)
    when = datetime(2026, 6, 1, 23, 59, 59, 999999, tzinfo=UTC)
    schema = EveryKind()
    dump = compile_json_sql(schema, User)
    with app.app_context():
        db.session.execute(
            update(User)
            .where(User.username == "often.in")
            .values(last_login_at=when, locked_until=when)
        )
        db.session.execute(text(f"SET LOCAL TIME ZONE '{zone}'"))
        written = db.session.execute(select(dump.column).order_by(User.user_id)).scalars().all()
        users = db.session.scalars(select(User).order_by(User.user_id)).all()
        expected = [app.json.dumps(schema.dump(user), separators=(",", ":")) for user in users]
        db.session.rollback()
    assert written == expected
    assert '"last_login_at":null' in written[0]
    assert '"last_login_at":"2026-06-01T23:59:59+00:00"' in written[1]


class NoTwin(Schema):
    links = fields.Method("links_of")

    def links_of(self, user):
        return {"self": f"/users/{user.user_id}"}


class WithHook(PublicUserSchema):
    @pre_dump
    def touch(self, data, **kwargs):
        return data


@pytest.mark.parametrize(
    "schema",
    [
        Schema.from_dict({"id": fields.Float(attribute="user_id")})(),
        Schema.from_dict({"roles": fields.List(fields.String(), attribute="rolenames")})(),
        Schema.from_dict({"id": fields.String(attribute="user_id")})(),
        Schema.from_dict({"name": fields.Integer(attribute="username")})(),
        Schema.from_dict({"id": fields.Integer(attribute="user_id", as_string=True)})(),
        Schema.from_dict({"at": fields.DateTime(attribute="created_datetime")})(),
        NoTwin(),
        WithHook(),
    ],
    ids=[
        "float",
        "list",
        "string-of-int",
        "int-of-string",
        "as-string",
        "datetime",
        "method",
        "hook",
    ],
)
def test_what_the_database_cannot_write_exactly_stays_with_python(schema):
    assert compile_json_sql(schema, User) is None


def test_a_page_is_spliced_only_where_the_provider_writes_it_so(app):
    with app.test_request_context():
        page = {
            "items": ['{"id":1}', '{"id":"\u00e9"}'],
            "meta": {"page": 1, "per_page": 2, "total_pages": 1, "total_items": 2},
            "links": {"self": "/x?page=1", "next": None, "prev": None, "first": "/x", "last": "/x"},
        }
        schema = Schema.from_dict(
            {
                "items": fields.Raw(),
                "meta": fields.Raw(data_key="_meta"),
                "links": fields.Raw(data_key="_links"),
            }
        )()
        written = page_response(schema, page)
        assert (
            written.data
            == app.json.response(
                {
                    "_links": page["links"],
                    "_meta": page["meta"],
                    "items": [{"id": 1}, {"id": "\u00e9"}],
                }
            ).data
        )
        assert b'"items":[{"id":1},{"id":"\\u00e9"}]}\n' in written.data
        assert PublicUserPageSchema().dump({**page, "items": []})["items"] == []
