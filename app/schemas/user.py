"""User representations, one schema per audience, and the login request.

public: anyone signed in; self: the user looking at themself; admin: admin or operator looking
at anyone. Each adds fields to the one before; none of them knows the password hash exists.
"""

from flask import url_for
from flask.globals import _cv_app
from marshmallow import Schema, fields, validate
from sqlalchemy import ColumnElement, Text, bindparam, func

from app.models.user import ROLES
from app.schemas.base import RequestSchema
from app.schemas.common import PaginationArgsSchema, UtcDateTime, page_schema
from app.schemas.dumper import CompiledDump
from app.schemas.fields import (
    PasswordNotUsernameMixin,
    StrictBoolean,
    email_field,
    password_field,
    username_field,
)
from app.schemas.sql_json import json_object, json_string

LINKS_METADATA = {
    "type": "object",
    "properties": {"self": {"type": "string", "description": "This user's URL."}},
}


def user_url_prefix() -> str:
    """What a user's URL is before the id. ``url_for`` runs once per request: a page has up to
    100 users, and building a URL costs more than dumping the user. (``g`` is read through the
    app context itself: each access through the ``g`` proxy costs as much as the rest of
    ``user_url``.)"""
    app_globals = _cv_app.get().g
    prefix = app_globals.get("user_url_prefix")
    if prefix is None:
        prefix = url_for("users.UserById", user_id=0).removesuffix("0")
        app_globals.user_url_prefix = prefix
    return prefix


def user_url(user_id: int) -> str:
    """A user's URL."""
    return f"{user_url_prefix()}{user_id}"


class PublicUserSchema(CompiledDump, Schema):
    """What every signed-in user may see of any user."""

    id = fields.Integer(attribute="user_id", dump_only=True)
    username = fields.String(dump_only=True)
    created_at = UtcDateTime(attribute="created_datetime", dump_only=True)
    links = fields.Method("user_links", data_key="_links", metadata=LINKS_METADATA)

    def user_links(self, user) -> dict[str, str]:
        """Hypermedia links of a user."""
        return {"self": user_url(user.user_id)}

    def user_links_sql(self, column) -> ColumnElement:
        """``user_links`` written by PostgreSQL (``app.schemas.sql_json``)."""
        url = func.concat(bindparam("user_url_prefix", type_=Text), column("user_id"))
        return json_object({"self": json_string(url, nullable=False)})

    def sql_params(self) -> dict[str, str]:
        """The bind values ``user_links_sql`` needs for this request."""
        return {"user_url_prefix": user_url_prefix()}


class SelfUserSchema(PublicUserSchema):
    """A user's own profile."""

    email = fields.String(dump_only=True)
    roles = fields.List(fields.String(), attribute="rolenames", dump_only=True)
    is_active = fields.Boolean(dump_only=True)
    email_confirmed = fields.Boolean(dump_only=True)
    last_login_at = UtcDateTime(dump_only=True, allow_none=True)


class AdminUserSchema(SelfUserSchema):
    """What admins and operators see of any user."""

    failed_login_count = fields.Integer(dump_only=True)
    locked_until = UtcDateTime(dump_only=True, allow_none=True)
    password_changed_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)


PublicUserPageSchema = page_schema(PublicUserSchema)
AdminUserPageSchema = page_schema(AdminUserSchema)


def roles_field(**kwargs) -> fields.List:
    """One or more of admin, operator, user."""
    return fields.List(
        fields.String(validate=validate.OneOf(ROLES)),
        validate=validate.Length(min=1, max=len(ROLES)),
        **kwargs,
    )


class UserCreateSchema(PasswordNotUsernameMixin, RequestSchema):
    """An account created by an admin."""

    username = username_field(required=True)
    email = email_field(required=True)
    password = password_field(required=True)
    roles = roles_field(load_default=lambda: ["user"])
    is_active = StrictBoolean(load_default=True)


class UserUpdateSchema(RequestSchema):
    """What an admin may change on any account."""

    email = email_field()
    roles = roles_field()
    is_active = StrictBoolean()


class SelfUpdateSchema(RequestSchema):
    """What a user may change on their own account."""

    email = email_field(required=True)


class UserListArgsSchema(PaginationArgsSchema):
    """Filters and order of the user lists."""

    q = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "Part of the username, ignoring case."},
    )
    role = fields.String(validate=validate.OneOf(ROLES))
    sort = fields.String(
        load_default="created_at",
        validate=validate.OneOf(["username", "-username", "created_at", "-created_at"]),
    )
    is_active = fields.Boolean(metadata={"description": "Admins and operators only."})
