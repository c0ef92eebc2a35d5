"""Personal access tokens as their owner (and staff) see them, and what creating one takes."""

from marshmallow import Schema, fields, validate

from app.schemas.base import RequestSchema
from app.schemas.common import PaginationArgsSchema, UtcDateTime, page_schema
from app.schemas.fields import NOT_BLANK, permission_field


class PersonalTokenSchema(Schema):
    """A personal token, without its secret."""

    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    scopes = fields.List(fields.String(), dump_only=True)
    organization_id = fields.Integer(dump_only=True, allow_none=True)
    created_at = UtcDateTime(dump_only=True)
    expires_at = UtcDateTime(dump_only=True)
    last_used_at = UtcDateTime(
        dump_only=True,
        allow_none=True,
        metadata={"description": "Kept to the minute (written at most once a minute)."},
    )


class NewPersonalTokenSchema(PersonalTokenSchema):
    """A token just created: its secret is in ``token``, shown this once."""

    token = fields.String(
        dump_only=True,
        metadata={"description": "Authorization: Bearer <token>. Shown this once: store it."},
    )


PersonalTokenPageSchema = page_schema(PersonalTokenSchema)


class PersonalTokenCreateSchema(RequestSchema):
    """A new token: a name to know it by, its scopes, and its lifespan in seconds."""

    name = fields.String(required=True, validate=[validate.Length(min=1, max=100), NOT_BLANK])
    scopes = fields.List(
        permission_field(),
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={
            "description": "One or more permissions (GET /permissions) that your roles grant: "
            "what the token may do."
        },
    )
    expires_in = fields.Integer(
        validate=validate.Range(min=1),
        metadata={
            "description": "Seconds (default PAT_DEFAULT_LIFESPAN, 30 days; at most "
            "PAT_MAX_LIFESPAN, a year)."
        },
    )
    organization_id = fields.Integer(
        validate=validate.Range(min=1),
        metadata={
            "description": "Bind the token to one of your organizations: it reaches that "
            "organization's routes and objects and your own profile, while you are a member."
        },
    )


class PersonalTokenListArgsSchema(PaginationArgsSchema):
    """Pages of tokens, the newest first."""
