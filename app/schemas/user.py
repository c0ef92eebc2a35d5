"""User representations, one schema per audience, and the login request.

public: anyone signed in; self: the user looking at themself; admin: admin or operator looking
at anyone. Each adds fields to the one before; none of them knows the password hash exists.
"""

from flask import url_for
from marshmallow import Schema, fields

from app.schemas.common import UtcDateTime, page_schema

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
        return {"self": url_for("users.user_by_id", user_id=user.user_id)}


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
