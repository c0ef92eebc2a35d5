"""Accounts: registration with optional e-mail confirmation, password reset, and changing
one's password."""

from flask import current_app, make_response, url_for

from app.api.blueprint import Blueprint
from app.auth.email_change import change_email
from app.auth.guard import current_user
from app.auth.notices import send_security_notice
from app.auth.passwords import change_own_password, set_password
from app.auth.sessions import end_sessions
from app.errors import ApiError
from app.extensions import db, guard, limiter
from app.mail import mail_task, queue
from app.models import User
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
from app.sealing import seal, unseal
from app.tokens import claims, emailed
from app.tokens.transport import respond_with_tokens

blp = Blueprint("account", __name__, url_prefix="/", description="Registration and passwords.")

RESET_ACCEPTED = "If an active account has that e-mail address, a reset token was sent to it."
RESET_PURPOSE = "reset addresses"
REGISTRATION_ACCEPTED = (
    "Check your inbox: a link to confirm the account was sent to that address (if an account "
    "has it already, its holder was told instead)."
)


@blp.route("register", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_REGISTER"])
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
    confirm = current_app.config["EMAIL_CONFIRMATION"]
    taken = User.taken_fields(account["username"], account["email"])
    if "username" in taken or (taken and not confirm):
        raise ApiError(409, "conflict", "The username or e-mail is already in use.", taken)
    password_hash = guard.hash_password(account["password"])
    if taken:
        # The address has an account: its holder is told, and the answer (and its cost: the
        # hash above, one e-mail) is the one a new account gets.
        send_security_notice(
            User.with_email(account["email"]),
            "Someone tried to register with your e-mail address",
            "Someone tried to register a new Gatehouse account with this address, which is "
            "already yours. Nothing changed. If you forgot your password, ask for a reset.",
        )
        return accepted(REGISTRATION_ACCEPTED)
    user = User(
        username=account["username"],
        email=account["email"],
        password=password_hash,
        roles="user",
        email_confirmed=not confirm,
    )
    db.session.add(user)
    db.session.commit()
    if confirm:
        emailed.send_registration_confirmation(user)
        return accepted(REGISTRATION_ACCEPTED)
    return user, 201, {"Location": url_for("users.UserById", user_id=user.user_id)}


def accepted(message: str):
    """A 202 with ``message`` (a response of its own: the view's 2xx schema is another)."""
    return make_response(AcceptedSchema().dump({"message": message}), 202)


@blp.route("register/confirm", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_EMAILED_TOKENS"])
@blp.arguments(ConfirmRegistrationSchema)
@blp.response(200, SelfUserSchema)
def confirm_registration(payload):
    """Confirm a new account's address with the token from its e-mail (works once). An account
    an admin deactivated stays deactivated."""
    user, _ = emailed.read(payload["token"], emailed.REGISTRATION)
    user.email_confirmed = True
    emailed.void_emailed_tokens(user)
    db.session.commit()
    return user


@blp.route("users/me/email/confirm", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_EMAILED_TOKENS"])
@blp.arguments(ConfirmRegistrationSchema)
@blp.response(200, SelfUserSchema)
@blp.alt_response(409, schema=ErrorSchema, description="Another account took the address since.")
def confirm_email_change(payload):
    """Complete an e-mail change with the token sent to the new address (works once)."""
    user, token_claims = emailed.read(payload["token"], emailed.REGISTRATION, email_change=True)
    if not user.is_active:
        raise ApiError(403, "account_disabled", "The account is disabled.")
    new_email = token_claims[claims.NEW_EMAIL]
    taken = User.taken_fields(None, new_email, exclude_id=user.user_id)
    if taken:
        raise ApiError(409, "conflict", "The e-mail is already in use.", taken)
    change_email(user, new_email)
    db.session.commit()
    return user


@blp.route("password/forgot", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_PASSWORD_FORGOT"])
@blp.arguments(ForgotPasswordSchema)
@blp.response(202, AcceptedSchema)
def forgot_password(payload):
    """Send a password reset token to that address; the answer is the same for any address."""
    if current_app.config["MAIL_QUEUE"]:
        # The look-up too happens in the worker: the request does the same work, and so takes
        # the same time, whether or not an account has the address.
        queue(reset_by_address, sealed_email=seal(payload["email"], RESET_PURPOSE))
    else:
        send_reset_email(payload["email"])
    return {"message": RESET_ACCEPTED}


def send_reset_email(email: str) -> None:
    """A reset token to ``email``, if an account that may sign in has it."""
    user = User.with_email(email)
    if user is not None and user.may_sign_in:
        emailed.send_password_reset(user)


@mail_task("reset_by_address")
def reset_by_address(context, sealed_email: str) -> None:
    """The worker's half of /password/forgot."""
    with context.additional_context["flask_app"].app_context():
        send_reset_email(unseal(sealed_email, RESET_PURPOSE))
        db.session.commit()


@blp.route("password/reset", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_EMAILED_TOKENS"])
@blp.arguments(ResetPasswordSchema)
@blp.response(204)
def reset_password(payload):
    """Choose a new password with a reset token (works once); every session of the user ends."""
    user, _ = emailed.read(payload["token"], emailed.RESET)
    set_password(user, payload["password"], reset=True)
    end_sessions(user.user_id, "password_reset")
    db.session.commit()


@blp.route("users/me/password", methods=["PUT"])
@blp.auth_required(
    unauthorized="invalid_credentials (the current password is wrong, see "
    "details.current_password), or no usable token: missing_token, invalid_token, "
    "token_expired or token_revoked."
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
