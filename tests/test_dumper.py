"""Page items are dumped by functions compiled from their schemas: the output must be exactly
the schema's own, for every schema a page uses."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from marshmallow import Schema, fields

from app.models.user import Account
from app.schemas.audit import AuditEventPageSchema, AuditEventSchema
from app.schemas.bucketlist import (
    BucketlistItemPageSchema,
    BucketlistItemSchema,
    BucketlistPageSchema,
    BucketlistSchema,
)
from app.schemas.common import UtcDateTime
from app.schemas.dumper import CompiledDump, DumpedList, compile_dumper
from app.schemas.user import (
    AdminUserPageSchema,
    AdminUserSchema,
    PublicUserPageSchema,
    PublicUserSchema,
    SelfUserSchema,
)

WHEN = datetime(2026, 11, 22, 10, 30, 15, 123456, tzinfo=UTC)


class Row:
    def __init__(self, **values) -> None:
        self.__dict__.update(values)


def account(**overrides) -> Account:
    values = {
        "user_id": 7,
        "username": "Ada",
        "email": "ada@example.com",
        "password": "$argon2id$never-dumped",
        "roles": "admin,user",
        "is_active": True,
        "email_confirmed": False,
        "created_datetime": WHEN,
        "updated_at": WHEN.replace(tzinfo=None),
        "password_changed_at": WHEN.astimezone(timezone(timedelta(hours=5))),
        "last_login_at": None,
        "failed_login_count": 3,
        "locked_until": None,
        "token_version": 2,
    } | overrides
    row = Row(**values)
    row._fields = tuple(values)
    return Account(_Tuple(row))


class _Tuple(tuple):
    """A row as ``Account`` takes it: field names and values."""

    def __new__(cls, row):
        made = super().__new__(cls, [getattr(row, name) for name in row._fields])
        made._fields = row._fields
        return made


ACCOUNTS = [
    account(),
    account(roles="", is_active=False, last_login_at=WHEN, locked_until=WHEN),
    account(user_id=2**40, username="ünïcode ✓", email_confirmed=True),
]


@pytest.mark.parametrize("schema", [PublicUserSchema, SelfUserSchema, AdminUserSchema])
def test_compiled_user_dumps_equal_the_schemas(app, schema) -> None:
    with app.test_request_context():
        dump = compile_dumper(schema())
        for item in ACCOUNTS:
            assert dump(item) == schema().dump(item)
        assert "password" not in dump(ACCOUNTS[0])
        assert dump(ACCOUNTS[0])["_links"] == {"self": "/users/7"}


def test_field_types_without_a_plain_conversion_use_their_own_serialize() -> None:
    class Mixed(Schema):
        number = fields.Integer()
        text = fields.String(data_key="label")
        flag = fields.Boolean(attribute="nested.flag")
        tags = fields.List(fields.String())
        when = UtcDateTime()
        price = fields.Decimal(as_string=True)
        counted = fields.Integer(as_string=True)
        ratio = fields.Float()

    from decimal import Decimal

    rows = [
        Row(
            number=4,
            text="x",
            nested=Row(flag=1),
            tags=["a", None],
            when=WHEN,
            price=Decimal("1.50"),
            counted=12,
            ratio=0.5,
        ),
        Row(
            number=None,
            text=None,
            nested=Row(flag=None),
            tags=None,
            when=None,
            price=None,
            counted=None,
            ratio=None,
        ),
    ]
    dump = compile_dumper(Mixed())
    for row in rows:
        assert dump(row) == Mixed().dump(row)
    assert dump(rows[0])["label"] == "x"
    assert dump(rows[0])["price"] == "1.50"
    assert dump(rows[0])["counted"] == "12"


def test_an_object_missing_an_attribute_is_dumped_by_the_schema() -> None:
    class Two(Schema):
        one = fields.Integer()
        two = fields.String()

    partial = Row(one=1)
    assert compile_dumper(Two())(partial) == {"one": 1} == Two().dump(partial)


def test_every_page_schema_dumps_its_items_with_a_compiled_dumper() -> None:
    pages = {
        PublicUserPageSchema: PublicUserSchema,
        AdminUserPageSchema: AdminUserSchema,
        BucketlistPageSchema: BucketlistSchema,
        BucketlistItemPageSchema: BucketlistItemSchema,
        AuditEventPageSchema: AuditEventSchema,
    }
    for page, item_schema in pages.items():
        items = page._declared_fields["items"]
        assert isinstance(items, DumpedList), page
        assert items.inner.nested is item_schema


def test_compiled_bucketlist_and_audit_dumps_equal_the_schemas(app) -> None:
    cases = {
        BucketlistSchema: [
            Row(id=1, owner_id=2, name="Trips", description=None, created_at=WHEN, updated_at=WHEN)
        ],
        BucketlistItemSchema: [
            Row(id=3, bucketlist_id=1, title="Oslo", done=False, created_at=WHEN, updated_at=WHEN)
        ],
        AuditEventSchema: [
            Row(
                id=9,
                at=WHEN,
                actor_id=None,
                action="user.roles_changed",
                target_id=2,
                changes={"roles": [["user"], ["admin", "user"]]},
                request_id="abc",
            ),
            Row(
                id=10,
                at=WHEN,
                actor_id=1,
                action="x",
                target_id=None,
                changes=None,
                request_id=None,
            ),
        ],
    }
    with app.test_request_context():
        for schema, rows in cases.items():
            dump = compile_dumper(schema())
            for row in rows:
                assert dump(row) == schema().dump(row), schema


def test_compiled_dump_schemas_dump_like_marshmallow_one_object_many_or_a_dict() -> None:
    from marshmallow import post_dump

    class Plain(CompiledDump, Schema):
        one = fields.Integer()
        two = fields.String(attribute="inner.two")

    class Hooked(Plain):
        @post_dump
        def shout(self, data, **kwargs):
            return {key: str(value).upper() for key, value in data.items()}

    objects = [Row(one=1, inner=Row(two="b")), {"one": 2, "inner": {"two": "c"}}, {"one": 3}]
    for schema in (Plain(), Hooked()):
        for obj in objects:
            assert schema.dump(obj) == Schema.dump(schema, obj), (schema, obj)
        assert schema.dump(objects, many=True) == Schema.dump(schema, objects, many=True)
    assert Plain().dump(objects[1]) == {"one": 2, "two": "c"}
    assert Plain().dump(objects[2]) == {"one": 3}
    assert Hooked().dump(objects[0]) == {"one": "1", "two": "B"}


def test_a_page_envelope_dumps_like_marshmallow(app) -> None:
    page = {
        "items": ACCOUNTS,
        "meta": {"page": 1, "per_page": 20, "total_pages": 1, "total_items": 3},
        "links": {"self": "/users?page=1", "next": None, "prev": None, "first": "/", "last": "/"},
    }
    with app.test_request_context():
        schema = PublicUserPageSchema()
        dumped = schema.dump(page)
        assert dumped == Schema.dump(schema, page)
        assert [item["id"] for item in dumped["items"]] == [7, 7, 2**40]
        assert dumped["_meta"]["total_items"] == 3
        assert dumped["_links"]["next"] is None
