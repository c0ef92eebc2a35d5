"""Requests and answers of the token and account lifecycle endpoints."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.schemas.base import RequestSchema
from app.schemas.fields import (
    PasswordPolicyMixin,
    email_field,
    password_field,
    username_field,
)
from app.schemas.passkey import credential_field


def token_field() -> fields.String:
    return fields.String(required=True, validate=validate.Length(min=1, max=4096))


def code_field(**kwargs) -> fields.String:
    """A code from an authenticator app (6 digits) or, where said, a recovery code."""
    return fields.String(
        load_only=True,
        validate=validate.Length(min=6, max=64),
        metadata={"example": "123456"},
        **kwargs,
    )


class ReauthenticateSchema(RequestSchema):
    """Proof, again, that it is you, before a sensitive change: a passkey (its answer to
    /login/passkey/options), or the password with, when the account has a second factor, a
    code from the authenticator app, a recovery code or a passkey."""

    password = fields.String(load_only=True, validate=validate.Length(min=1, max=1024))
    code = code_field()
    credential = credential_field()

    @validates_schema
    def some_proof(self, data, **kwargs) -> None:
        if "password" not in data and "credential" not in data:
            raise ValidationError(
                "Send your password, or a passkey's answer (credential).", field_name="password"
            )


class CodeSchema(RequestSchema):
    """A code from the authenticator app (or, to turn MFA off, a recovery code)."""

    code = code_field(required=True)


class MfaLoginSchema(RequestSchema):
    """The second step of a sign-in: the ``mfa_token`` of the first, and a code, a recovery
    code or a passkey's answer to /login/passkey/options (exactly one of the three)."""

    mfa_token = token_field()
    code = code_field()
    recovery_code = code_field()
    credential = credential_field()

    @validates_schema
    def one_code(self, data, **kwargs) -> None:
        if sum(name in data for name in ("code", "recovery_code", "credential")) != 1:
            raise ValidationError(
                "Send one of code, recovery_code or credential.", field_name="code"
            )


class EnrolmentSchema(RequestSchema):
    """The enrolment token of a 403 ``mfa_enrollment_required``."""

    enrollment_token = token_field()


class EnrolmentConfirmSchema(EnrolmentSchema):
    code = code_field(required=True)


class TotpEnrolmentSchema(Schema):
    """A new TOTP secret, shown once: the secret itself, the otpauth:// URI and its QR code."""

    secret = fields.String(required=True)
    otpauth_uri = fields.String(required=True)
    qr_svg = fields.String(required=True, metadata={"description": "The QR code as inline SVG."})


class RecoveryCodesSchema(Schema):
    """Ten recovery codes, shown once: each signs in once in place of a code."""

    recovery_codes = fields.List(fields.String(), required=True)


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


class LoginAnswerSchema(TokenSchema):
    """A login's answer: the tokens of a new session or, for an account with MFA on, no tokens
    but ``mfa_required`` and an ``mfa_token`` for ``POST /login/mfa`` (``expires_in`` then
    says how long it lasts)."""

    access_token = fields.String(metadata={"description": "Absent when mfa_required."})
    token_type = fields.String(metadata={"example": "Bearer"})
    refresh_expires_in = fields.Integer(
        metadata={"description": "Seconds before the session expires unless refreshed."}
    )
    mfa_required = fields.Boolean()
    second_factors = fields.List(
        fields.String(),
        metadata={
            "description": "When mfa_required: what POST /login/mfa accepts besides a recovery "
            "code: totp (a code), passkey (a credential)."
        },
    )
    mfa_token = fields.String(
        metadata={"description": "Good for POST /login/mfa only, for 5 minutes."}
    )


class EnrolledSchema(TokenSchema, RecoveryCodesSchema):
    """A sign-in completed by turning MFA on: the session's tokens and the recovery codes."""


class RefreshSchema(RequestSchema):
    """The session's current refresh token (in browser mode, the cookie carries it: send {})."""

    refresh_token = fields.String(validate=validate.Length(min=1, max=4096))
    organization_id = fields.Integer(
        validate=validate.Range(min=1),
        metadata={
            "description": "Mint the access token for one of your organizations: it carries "
            "org_id and org_roles (a snapshot for other services) and stops working when you "
            "are no longer a member."
        },
    )


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
    """The token from the reset e-mail, the new password, and which other ways in to remove."""

    token = token_field()
    password = password_field(required=True)
    remove_ways_in = fields.String(
        load_default="recent",
        validate=validate.OneOf(("recent", "all", "none")),
        metadata={
            "description": "Passkeys and provider identities to remove with the reset: those "
            "added in the last RESET_RECENT_WAYS_IN seconds (recent, the default: 7 days), all "
            "of them, or none."
        },
    )


class ChangePasswordSchema(RequestSchema):
    """The current password, proving it is really you, and the new one."""

    current_password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=1024)
    )
    new_password = password_field(required=True)


class AcceptedSchema(Schema):
    """A request was accepted; what happens next is said in ``message``."""

    message = fields.String(required=True)
