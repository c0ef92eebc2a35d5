"""PostgreSQL's dump of a page's items is marshmallow's, field for field; schemas it cannot write
fall back to marshmallow."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from marshmallow import Schema, fields, post_dump
from sqlalchemy import select

from app.database import recorded_statements
from app.extensions import db
from app.models import Bucketlist, User
from app.schemas.bucketlist import BucketlistSchema
from app.schemas.common import UtcDateTime
from app.schemas.sql_dump import sql_dump
from app.schemas.user import AdminUserSchema, PublicUserSchema, SelfUserSchema

HOSTILE_NAMES = [
    'quote"d',
    "back\\slash",
    "tab\tnew\nline",
    "ünïcødé",
    "emoji🙂",
    "del\x7f",
    "'single'",
]


def test_the_public_view_written_by_postgresql_is_marshmallows(app) -> None:
    with app.test_request_context(method="POST", environ_overrides={"SCRIPT_NAME": "/mounted"}):
        for number, name in enumerate(HOSTILE_NAMES):
            # Times in other zones and with microseconds: both write UTC to the second.
            created = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=5)))
            db.session.add(
                User(
                    username=name,
                    email=f"h{number}@example.com",
                    password="x",
                    created_datetime=created + timedelta(days=number),
                )
            )
        db.session.commit()
        schema = PublicUserSchema()
        dump = sql_dump(schema, User)
        assert dump is not None
        users = db.session.scalars(select(User).order_by(User.user_id)).all()
        written = db.session.scalars(
            select(dump.expression).order_by(User.user_id), dump.params()
        ).all()
        assert written == schema.dump(users, many=True)
        assert written[0]["_links"]["self"] == f"/mounted/users/{users[0].user_id}"
        assert written[0]["created_at"] == "2026-01-01T22:04:05+00:00"


def test_null_times_and_booleans_are_written_as_marshmallow_writes_them(app) -> None:
    class Times(Schema):
        id = fields.Integer(attribute="user_id")
        last_login_at = UtcDateTime(allow_none=True)
        locked_until = UtcDateTime(allow_none=True)
        is_active = fields.Boolean()
        email = fields.String()

    with app.app_context():
        db.session.add(User(username="never", email="n@x.org", password="x", is_active=False))
        db.session.add(
            User(username="once", email="o@x.org", password="x", last_login_at=datetime.now(UTC))
        )
        db.session.commit()
        schema = Times()
        dump = sql_dump(schema, User)
        users = db.session.scalars(select(User).order_by(User.user_id)).all()
        written = db.session.scalars(select(dump.expression).order_by(User.user_id)).all()
        assert written == schema.dump(users, many=True)
        assert written[0]["last_login_at"] is None


class Hooked(Schema):
    id = fields.Integer(attribute="user_id")

    @post_dump
    def shout(self, data, **kwargs):
        return data


class Odd(Schema):
    id = fields.Integer(attribute="user_id", as_string=True)


@pytest.mark.parametrize(
    ("schema", "model"),
    [
        # A method field without an SQL twin.
        (BucketlistSchema, Bucketlist),
        # A list of roles read through a property, not a column.
        (SelfUserSchema, User),
        (AdminUserSchema, User),
        (Hooked, User),
        (Odd, User),
    ],
)
def test_schemas_it_cannot_write_exactly_fall_back_to_marshmallow(schema, model) -> None:
    assert sql_dump(schema(), model) is None


def test_the_public_list_is_written_by_postgresql_and_the_admin_list_by_marshmallow(
    client, admin, make_user, auth, counted_statements
) -> None:
    make_user("other")
    headers = auth(admin)
    for path, written_in_sql in (("/users", True), ("/users/admin-only", False)):
        with counted_statements() as statements:
            response = client.get(path, headers=headers)
        assert response.status_code == 200
        assert {item["username"] for item in response.get_json()["items"]} == {"admin", "other"}
        assert ("json_build_object" in statements[-1]) is written_in_sql


def test_without_the_fast_path_the_public_list_is_dumped_by_marshmallow(
    app, make_app, admin, make_user, auth
) -> None:
    make_user("other")
    headers = auth(admin)
    fast = app.test_client().get("/users", headers=headers).get_json()
    plain_app = make_app(FAST_PATHS={"autocommit_reads"})
    with plain_app.app_context():
        engine = db.engine
    with recorded_statements(engine) as statements:
        plain = plain_app.test_client().get("/users", headers=headers).get_json()
    assert "json_build_object" not in statements[-1]
    assert plain == fast
