"""User representations, one schema per audience, and the login request.

public: anyone signed in; self: the user looking at themself; admin: admin or operator looking
at anyone. Each adds fields to the one before; none of them knows the password hash exists.
"""

from flask import url_for
from marshmallow import Schema, fields, validate
from sqlalchemy import ColumnElement, Text, bindparam, cast, func, literal_column

from app.models.user_list import DEFAULT_SORT, PREFIX_BELOW, SORTS
from app.schemas.base import RequestSchema
from app.schemas.common import PaginationArgsSchema, UtcDateTime, page_schema
from app.schemas.fields import (
    PasswordPolicyMixin,
    StrictBoolean,
    email_field,
    password_field,
    role_name_field,
    username_field,
)

LINKS_METADATA = {
    "type": "object",
    "properties": {"self": {"type": "string", "description": "This user's URL."}},
}


class PublicUserSchema(Schema):
    """What every signed-in user may see of any user."""

    id = fields.Integer(attribute="user_id", dump_only=True)
    username = fields.String(dump_only=True)
    created_at = UtcDateTime(attribute="created_datetime", dump_only=True)
    links = fields.Method("user_links", data_key="_links", metadata=LINKS_METADATA)

    def user_links(self, user) -> dict[str, str]:
        """Hypermedia links of a user."""
        return {"self": url_for("users.UserById", user_id=user.user_id)}

    def user_links_sql(self, columns) -> ColumnElement:
        """``user_links`` written by PostgreSQL (``app.schemas.sql_dump``)."""
        url = bindparam("user_url_prefix", type_=Text) + cast(columns["user_id"], Text)
        return func.json_build_object(literal_column("'self'"), url)

    def sql_params(self) -> dict[str, str]:
        """The bind values ``user_links_sql`` needs: what a user's URL is before its id."""
        return {"user_url_prefix": url_for("users.UserById", user_id=0).removesuffix("0")}


class SelfUserSchema(PublicUserSchema):
    """A user's own profile."""

    email = fields.String(dump_only=True)
    roles = fields.List(fields.String(), attribute="rolenames", dump_only=True)
    is_active = fields.Boolean(dump_only=True)
    email_confirmed = fields.Boolean(dump_only=True)
    last_login_at = UtcDateTime(dump_only=True, allow_none=True)
    mfa_enabled = fields.Boolean(dump_only=True)


class AdminUserSchema(SelfUserSchema):
    """What admins and operators see of any user."""

    failed_login_count = fields.Integer(dump_only=True)
    locked_until = UtcDateTime(dump_only=True, allow_none=True)
    password_changed_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)


PublicUserPageSchema = page_schema(PublicUserSchema)
AdminUserPageSchema = page_schema(AdminUserSchema)


def roles_field(**kwargs) -> fields.List:
    """One or more roles, by name (``GET /roles``; an unknown one is refused by name)."""
    return fields.List(role_name_field(), validate=validate.Length(min=1, max=20), **kwargs)


class UserCreateSchema(PasswordPolicyMixin, RequestSchema):
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


class PendingEmailSchema(Schema):
    """An e-mail change waiting for the link sent to the new address."""

    pending_email = fields.String(required=True)


class SelfUpdateSchema(RequestSchema):
    """What a user may change on their own account."""

    email = email_field(required=True)


class UserListArgsSchema(PaginationArgsSchema):
    """Filters and order of the user lists."""

    q = fields.String(
        validate=validate.Length(max=64),
        metadata={
            "description": "Part of the username, ignoring case: anywhere in it from "
            f"{PREFIX_BELOW} characters, at its start below (one or two letters anywhere "
            "would match nearly everyone)."
        },
    )
    role = role_name_field()
    sort = fields.String(load_default=DEFAULT_SORT, validate=validate.OneOf(list(SORTS)))
    is_active = fields.Boolean(metadata={"description": "Admins and operators only."})
