"""Multi-factor authentication: turning TOTP on and off, recovery codes, the second step of a
sign-in, and the enrolment an account with a role in ``MFA_REQUIRED_ROLES`` must go through
before it gets any token (``app.auth.mfa`` says how each piece works)."""

from flask import current_app
from flask.views import MethodView

from app.api.auth import sign_in
from app.api.blueprint import Blueprint
from app.audit import record_event
from app.auth import mfa
from app.auth.guard import current_user
from app.auth.notices import send_security_notice
from app.auth.sessions import end_sessions
from app.errors import ApiError
from app.extensions import db, limiter
from app.models import User
from app.schemas.auth import (
    CodeSchema,
    EnrolledSchema,
    EnrolmentConfirmSchema,
    EnrolmentSchema,
    MfaLoginSchema,
    RecoveryCodesSchema,
    TokenSchema,
    TotpEnrolmentSchema,
)
from app.schemas.common import ErrorSchema

blp = Blueprint("mfa", __name__, url_prefix="/", description="Multi-factor authentication.")

NO_PENDING_SECRET = "Start with POST /users/me/mfa/totp: there is no secret to confirm."  # noqa: S105
WRONG_CODE = {
    "schema": ErrorSchema,
    "description": "invalid_credentials: the code is wrong (counted like a failed login).",
}


def turn_on(user: User, code: str) -> list[str]:
    """Confirm the pending secret with a first code: MFA is on; the recovery codes."""
    if user.totp_secret is None or user.mfa_enabled:
        raise ApiError(409, "conflict", NO_PENDING_SECRET)
    mfa.check_code(user, code)
    codes = mfa.enable(user)
    record_event("user.mfa_enabled", user.user_id, {"mfa_enabled": [False, True]})
    send_security_notice(
        user,
        "Two-step sign-in is on",
        "Your account now asks for a code from your authenticator app at each sign-in. If this "
        "was not you, reset your password and contact an administrator.",
    )
    return codes


@blp.route("users/me/mfa/totp", methods=["POST"])
@blp.fresh_auth_required
@blp.response(200, TotpEnrolmentSchema)
@blp.alt_response(409, schema=ErrorSchema, description="conflict: MFA is on already.")
def start_totp():
    """Start turning MFA on: a new TOTP secret for your authenticator app (not active yet)."""
    enrolment = mfa.start_enrolment(current_user())
    db.session.commit()
    return enrolment


@blp.route("users/me/mfa/totp/confirm", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"])
@blp.auth_required(unauthorized="invalid_credentials (wrong code), or no usable token.")
@blp.arguments(CodeSchema)
@blp.response(200, RecoveryCodesSchema)
@blp.alt_response(409, schema=ErrorSchema, description=f"conflict: {NO_PENDING_SECRET}")
def confirm_totp(payload):
    """Turn MFA on with a first code from the app: the answer holds the recovery codes, once."""
    codes = turn_on(current_user(), payload["code"])
    db.session.commit()
    return {"recovery_codes": codes}


@blp.route("users/me/mfa/recovery-codes", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"])
@blp.fresh_auth_required
@blp.arguments(CodeSchema)
@blp.response(200, RecoveryCodesSchema)
@blp.alt_response(409, schema=ErrorSchema, description="conflict: MFA is off.")
def renew_recovery_codes(payload):
    """New recovery codes (a code from the app proves it is you); the old ones stop working."""
    user = current_user()
    if not user.mfa_enabled:
        raise ApiError(409, "conflict", "MFA is off: there are no recovery codes to renew.")
    mfa.check_code(user, payload["code"])
    codes = mfa.new_recovery_codes(user)
    db.session.commit()
    return {"recovery_codes": codes}


@blp.route("users/me/mfa/disable", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"])
@blp.fresh_auth_required
@blp.arguments(CodeSchema)
@blp.response(204)
@blp.alt_response(409, schema=ErrorSchema, description="conflict: MFA is off already.")
def disable_totp(payload):
    """Turn MFA off with a code from the app or a recovery code."""
    user = current_user()
    if not user.mfa_enabled:
        raise ApiError(409, "conflict", "MFA is off already.")
    mfa.check_code(user, payload["code"], recovery=True)
    mfa.disable(user)
    record_event("user.mfa_disabled", user.user_id, {"mfa_enabled": [True, False]})
    send_security_notice(
        user,
        "Two-step sign-in is off",
        "Your account no longer asks for a code at sign-in. If this was not you, reset your "
        "password and contact an administrator.",
    )
    db.session.commit()
    return "", 204


@blp.route("users/<int:user_id>/mfa")
class UserMfa(MethodView):
    @blp.roles_required("admin")
    @blp.response(204)
    @blp.alt_response(404, schema=ErrorSchema, description="not_found: no user has that id.")
    def delete(self, user_id: int):
        """Turn a user's MFA off (a lost device): every session of theirs ends."""
        user = db.session.get(User, user_id)
        if user is None:
            raise ApiError(404, "not_found", "No user has that id.")
        was_on = user.mfa_enabled
        mfa.disable(user)
        end_sessions(user.user_id, "mfa_reset")
        record_event("user.mfa_reset", user.user_id, {"mfa_enabled": [was_on, False]})
        send_security_notice(
            user,
            "Two-step sign-in was reset by an administrator",
            "An administrator turned two-step sign-in off for your account and ended its "
            "sessions. Sign in again, and turn it back on from your profile.",
        )
        db.session.commit()
        return "", 204


@blp.route("login/mfa", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"])
@blp.arguments(MfaLoginSchema)
@blp.response(200, TokenSchema)
@blp.alt_response(401, **WRONG_CODE)
@blp.alt_response(429, schema=ErrorSchema, description="Too many attempts (see Retry-After).")
def login_mfa(payload):
    """Finish a sign-in of an account with MFA on: the mfa_token and a code (or recovery code)."""
    user = mfa.user_of_token(payload["mfa_token"], mfa.MFA_AUDIENCE)
    if "code" in payload:
        mfa.check_code(user, payload["code"])
    else:
        mfa.check_code(user, payload["recovery_code"], "recovery_code", recovery=True)
    return sign_in(user)


@blp.route("login/mfa/enroll", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"])
@blp.arguments(EnrolmentSchema)
@blp.response(200, TotpEnrolmentSchema)
def enrol(payload):
    """For an account that must use MFA (MFA_REQUIRED_ROLES): a TOTP secret to enrol with,
    using the enrollment_token of its login's 403."""
    user = mfa.user_of_token(payload["enrollment_token"], mfa.ENROLMENT_AUDIENCE)
    enrolment = mfa.start_enrolment(user)
    db.session.commit()
    return enrolment


@blp.route("login/mfa/enroll/confirm", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"])
@blp.arguments(EnrolmentConfirmSchema)
@blp.response(200, EnrolledSchema)
@blp.alt_response(401, **WRONG_CODE)
def confirm_enrolment(payload):
    """Finish the enrolment with a first code: MFA is on, a session starts, and the answer
    holds its tokens and the recovery codes (once)."""
    user = mfa.user_of_token(payload["enrollment_token"], mfa.ENROLMENT_AUDIENCE)
    codes = turn_on(user, payload["code"])
    return sign_in(user, schema=EnrolledSchema, recovery_codes=codes)
