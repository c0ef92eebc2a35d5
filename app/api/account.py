"""Accounts: registration with optional e-mail confirmation, and password reset."""

from flask import current_app, url_for
from sqlalchemy import func, select

from app.api.blueprint import Blueprint
from app.auth.passwords import set_password
from app.auth.revocation import void_emailed_tokens
from app.auth.sessions import end_sessions
from app.errors import ApiError
from app.extensions import db, guard, limiter
from app.models import User
from app.schemas.auth import (
    AcceptedSchema,
    ConfirmRegistrationSchema,
    ForgotPasswordSchema,
    RegisterSchema,
    ResetPasswordSchema,
)
from app.schemas.common import ErrorSchema
from app.schemas.user import SelfUserSchema

blp = Blueprint("account", __name__, url_prefix="/", description="Registration and passwords.")

RESET_ACCEPTED = "If an active account has that e-mail address, a reset token was sent to it."


@blp.route("register", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_REGISTER"])
@blp.arguments(RegisterSchema)
@blp.response(201, SelfUserSchema)
@blp.alt_response(409, schema=ErrorSchema, description="The username or e-mail is taken.")
def register(account):
    """Create an account with the role user (inactive until confirmed, when confirmation is on)."""
    if not current_app.config["REGISTRATION_ENABLED"]:
        raise ApiError(403, "forbidden", "Registration is disabled on this server.")
    taken = User.taken_fields(account["username"], account["email"])
    if taken:
        raise ApiError(409, "conflict", "The username or e-mail is already in use.", taken)
    confirm = current_app.config["EMAIL_CONFIRMATION"]
    user = User(
        username=account["username"],
        email=account["email"],
        password=guard.hash_password(account["password"]),
        roles="user",
        is_active=not confirm,
        email_confirmed=not confirm,
    )
    db.session.add(user)
    db.session.commit()
    if confirm:
        guard.send_registration_email(user.email, user)
    return user, 201, {"Location": url_for("users.UserById", user_id=user.user_id)}


@blp.route("register/confirm", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_EMAILED_TOKENS"])
@blp.arguments(ConfirmRegistrationSchema)
@blp.response(200, SelfUserSchema)
def confirm_registration(payload):
    """Activate an account with the token from its confirmation e-mail (works once)."""
    user = guard.get_user_from_registration_token(payload["token"])
    user.is_active = True
    user.email_confirmed = True
    void_emailed_tokens(user)
    db.session.commit()
    return user


@blp.route("password/forgot", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_PASSWORD_FORGOT"])
@blp.arguments(ForgotPasswordSchema)
@blp.response(202, AcceptedSchema)
def forgot_password(payload):
    """Send a password reset token to that address; the answer is the same for any address."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == payload["email"]))
    if user is not None and user.is_active:
        guard.send_reset_email(user.email, user)
    return {"message": RESET_ACCEPTED}


@blp.route("password/reset", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_EMAILED_TOKENS"])
@blp.arguments(ResetPasswordSchema)
@blp.response(204)
def reset_password(payload):
    """Choose a new password with a reset token (works once); every session of the user ends."""
    user = guard.validate_reset_token(payload["token"])
    set_password(user, payload["password"], reset=True)
    end_sessions(user.user_id, "password_reset")
    db.session.commit()
