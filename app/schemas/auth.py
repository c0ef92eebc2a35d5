"""Requests and answers of the token and account lifecycle endpoints."""

from marshmallow import Schema, fields, validate

from app.schemas.base import RequestSchema
from app.schemas.fields import (
    PasswordPolicyMixin,
    email_field,
    password_field,
    username_field,
)


def token_field() -> fields.String:
    return fields.String(required=True, validate=validate.Length(min=1, max=4096))


class ReauthenticateSchema(RequestSchema):
    """The signed-in user's password, checked again before a sensitive change."""

    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=1024)
    )


class LoginSchema(RequestSchema):
    """Credentials exchanged for a token."""

    username = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=1024)
    )


class TokenSchema(Schema):
    """An access token, how long it grants access, and the session's refresh token."""

    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds of access."})
    refresh_token = fields.String(
        metadata={
            "description": "Good for one /refresh, which returns its successor. In browser mode "
            "(REFRESH_COOKIE) it is in an HttpOnly cookie instead."
        },
    )
    refresh_expires_in = fields.Integer(
        required=True,
        metadata={"description": "Seconds before the session expires unless refreshed."},
    )


class RefreshSchema(RequestSchema):
    """The session's current refresh token (in browser mode, the cookie carries it: send {})."""

    refresh_token = fields.String(validate=validate.Length(min=1, max=4096))


class RegisterSchema(PasswordPolicyMixin, RequestSchema):
    """A new account."""

    username = username_field(required=True)
    email = email_field(required=True)
    password = password_field(required=True)


class ConfirmRegistrationSchema(RequestSchema):
    """The token from the confirmation e-mail."""

    token = token_field()


class ForgotPasswordSchema(RequestSchema):
    """Where to send a reset token, if an account has that address."""

    email = email_field(required=True)


class ResetPasswordSchema(RequestSchema):
    """The token from the reset e-mail and the new password."""

    token = token_field()
    password = password_field(required=True)


class ChangePasswordSchema(RequestSchema):
    """The current password, proving it is really you, and the new one."""

    current_password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=1024)
    )
    new_password = password_field(required=True)


class AcceptedSchema(Schema):
    """A request was accepted; what happens next is said in ``message``."""

    message = fields.String(required=True)
