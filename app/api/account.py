"""Accounts: registration with optional e-mail confirmation, password reset, and changing
one's password."""

from flask import current_app, make_response, url_for

from app.access.permissions import SESSION
from app.access.sessions import end_sessions
from app.accounts import email_change, recovery, registration
from app.accounts.passwords import change_own_password, set_password
from app.api.blueprint import Blueprint
from app.errors import ApiError
from app.extensions import db
from app.guard import current_user
from app.schemas.auth import (
    AcceptedSchema,
    ChangePasswordSchema,
    ConfirmRegistrationSchema,
    ForgotPasswordSchema,
    RegisterSchema,
    ResetPasswordSchema,
    TokenSchema,
)
from app.schemas.common import ErrorSchema
from app.schemas.user import SelfUserSchema
from app.tokens import emailed
from app.tokens.transport import respond_with_tokens

blp = Blueprint(
    "account",
    __name__,
    url_prefix="/",
    description="Registration and passwords.",
    links={"register": "account.register"},
)

RESET_ACCEPTED = "If an active account has that e-mail address, a reset token was sent to it."
REGISTRATION_ACCEPTED = (
    "Check your inbox: a link to confirm the account was sent to that address (if an account "
    "has it already, its holder was told instead)."
)


@blp.route("register", methods=["POST"])
@blp.rate_limited("register")
@blp.arguments(RegisterSchema)
@blp.response(201, SelfUserSchema)
@blp.alt_response(
    202,
    schema=AcceptedSchema,
    description="With EMAIL_CONFIRMATION=true, for every well-formed request: a confirmation "
    "link goes to the address, or, when an account has it already, a word to its holder.",
)
@blp.alt_response(
    409,
    schema=ErrorSchema,
    description="The username is taken (or, without EMAIL_CONFIRMATION, the e-mail).",
)
def register(account):
    """Create an account with the role user (it signs in once its address is confirmed, when
    confirmation is on)."""
    if not current_app.config["REGISTRATION_ENABLED"]:
        raise ApiError(403, "forbidden", "Registration is disabled on this server.")
    user = registration.register(account["username"], account["email"], account["password"])
    db.session.commit()
    if user is None:
        return accepted(REGISTRATION_ACCEPTED)
    return user, 201, {"Location": url_for("users.UserById", user_id=user.user_id)}


def accepted(message: str):
    """A 202 with ``message`` (a response of its own: the view's 2xx schema is another)."""
    return make_response(AcceptedSchema().dump({"message": message}), 202)


@blp.route("register/confirm", methods=["POST"])
@blp.rate_limited("emailed_tokens")
@blp.arguments(ConfirmRegistrationSchema)
@blp.response(200, SelfUserSchema)
@blp.alt_response(
    409, schema=ErrorSchema, description="conflict: another account confirmed the address first."
)
def confirm_registration(payload):
    """Confirm a new account's address with the token from its e-mail (works once). An account
    an admin deactivated stays deactivated."""
    user = registration.confirm(payload["token"])
    db.session.commit()
    return user


@blp.route("users/me/email/confirm", methods=["POST"])
@blp.rate_limited("emailed_tokens")
@blp.arguments(ConfirmRegistrationSchema)
@blp.response(200, SelfUserSchema)
@blp.alt_response(409, schema=ErrorSchema, description="Another account took the address since.")
def confirm_email_change(payload):
    """Complete an e-mail change with the token sent to the new address (works once)."""
    user = email_change.confirm_email_change(payload["token"])
    db.session.commit()
    return user


@blp.route("password/forgot", methods=["POST"])
@blp.rate_limited("password_forgot")
@blp.arguments(ForgotPasswordSchema)
@blp.response(202, AcceptedSchema)
def forgot_password(payload):
    """Send a password reset token to that address; the answer is the same for any address."""
    registration.send_reset.later(email=payload["email"])
    return {"message": RESET_ACCEPTED}


@blp.route("password/reset", methods=["POST"])
@blp.rate_limited("emailed_tokens")
@blp.arguments(ResetPasswordSchema)
@blp.response(204)
def reset_password(payload):
    """Choose a new password with a reset token (works once): every session and personal token
    of the user ends, and the passkeys and provider identities added in the last 7 days go too
    (``remove_ways_in``: recent, all or none)."""
    user, _ = emailed.read(payload["token"], emailed.RESET)
    removed = recovery.remove_ways_in(user, payload["remove_ways_in"])
    set_password(user, payload["password"], reset=True, removed=removed)
    end_sessions(user.user_id, "password_reset")
    db.session.commit()


@blp.route("users/me/password", methods=["PUT"])
@blp.auth_required(
    SESSION,
    unauthorized="invalid_credentials (the current password is wrong, see "
    "details.current_password), or no usable token: missing_token, invalid_token, "
    "token_expired or token_revoked.",
)
@blp.arguments(ChangePasswordSchema)
@blp.response(200, TokenSchema)
def change_password(payload):
    """Change your password: this session gets new tokens, every other session ends."""
    answer = change_own_password(
        current_user(), payload["current_password"], payload["new_password"]
    )
    db.session.commit()
    return respond_with_tokens(answer, TokenSchema)
