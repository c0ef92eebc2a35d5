"""OpenID Connect providers and the identities an account has at them."""

from marshmallow import EXCLUDE, Schema, fields, validate

from app.schemas.base import RequestSchema
from app.schemas.common import PaginationArgsSchema, UtcDateTime, page_schema


class ProviderSchema(Schema):
    """A configured provider: sign in by sending the browser to ``login_url``."""

    name = fields.String()
    login_url = fields.String(
        metadata={"description": "GET it in the browser (with ?redirect_uri=... if needed)."}
    )


ProviderPageSchema = page_schema(ProviderSchema)


def redirect_uri_field() -> fields.String:
    return fields.String(
        validate=validate.Length(min=1, max=1024),
        metadata={
            "description": "Where the browser is sent back with the code: one of "
            "OIDC_REDIRECT_ALLOWLIST (default: its first)."
        },
    )


class ProviderStartArgsSchema(RequestSchema):
    redirect_uri = redirect_uri_field()


class CallbackArgsSchema(Schema):
    """What the provider sends back (other parameters, such as iss, are ignored). The lengths
    keep the request line within what the server reads (4,094 bytes)."""

    class Meta:
        unknown = EXCLUDE

    state = fields.String(validate=validate.Length(max=512))
    code = fields.String(validate=validate.Length(max=2048))
    error = fields.String(validate=validate.Length(max=128))


class ExchangeSchema(RequestSchema):
    """The code the callback sent the client back with (single use, 60 seconds)."""

    code = fields.String(required=True, validate=validate.Length(min=1, max=4096))


class IdentitySchema(Schema):
    """An identity of yours at a provider."""

    id = fields.Integer(dump_only=True)
    provider = fields.String(dump_only=True)
    email = fields.String(dump_only=True, allow_none=True)
    created_at = UtcDateTime(dump_only=True)


IdentityPageSchema = page_schema(IdentitySchema)


class IdentityListArgsSchema(PaginationArgsSchema):
    """Pages of identities, the oldest first."""


class LinkSchema(RequestSchema):
    redirect_uri = redirect_uri_field()


class LinkAnswerSchema(Schema):
    authorization_url = fields.String(
        metadata={
            "description": "Send the browser there; it comes back to redirect_uri with "
            "?link_code=...&provider=<provider>."
        }
    )


class LinkConfirmSchema(RequestSchema):
    """The link_code a link's browser came back with (single use, 60 seconds)."""

    link_code = fields.String(required=True, validate=validate.Length(min=1, max=4096))
