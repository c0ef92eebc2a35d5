"""Multi-factor authentication: turning TOTP on and off, recovery codes, the second step of a
sign-in, and the enrolment an account with a role in ``MFA_REQUIRED_ROLES`` must go through
before it gets any token (``app.accounts.mfa`` says how each piece works)."""

from flask.views import MethodView

from app.access import mfa_policy, roles
from app.access.permissions import SESSION, USERS_WRITE
from app.accounts import factors, mfa
from app.api.blueprint import Blueprint
from app.api.lookup import user_or_404
from app.errors import ApiError
from app.extensions import db
from app.guard import current_user
from app.schemas.auth import (
    CodeSchema,
    RecoveryCodesSchema,
    TotpEnrolmentSchema,
)
from app.schemas.common import ErrorSchema

blp = Blueprint("mfa", __name__, url_prefix="/", description="Multi-factor authentication.")

WRONG_CODE = {
    "schema": ErrorSchema,
    "description": "invalid_credentials: the code is wrong (counted like a failed login).",
}


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
@blp.rate_limited("login")
@blp.auth_required(SESSION, unauthorized="invalid_credentials (wrong code), or no usable token.")
@blp.arguments(CodeSchema)
@blp.response(200, RecoveryCodesSchema)
@blp.alt_response(409, schema=ErrorSchema, description=f"conflict: {mfa.NO_PENDING_SECRET}")
def confirm_totp(payload):
    """Turn MFA on with a first code from the app: the answer holds the recovery codes, once."""
    user = current_user()
    mfa.require_pending_secret(user)
    factors.prove(user, factors.code(user, payload["code"]))
    codes = mfa.turn_on(user)
    db.session.commit()
    return {"recovery_codes": codes}


@blp.route("users/me/mfa/recovery-codes", methods=["POST"])
@blp.rate_limited("login")
@blp.fresh_auth_required
@blp.arguments(CodeSchema)
@blp.response(200, RecoveryCodesSchema)
@blp.alt_response(409, schema=ErrorSchema, description="conflict: MFA is off.")
def renew_recovery_codes(payload):
    """New recovery codes (a code from the app proves it is you); the old ones stop working."""
    user = current_user()
    if not user.mfa_enabled:
        raise ApiError(409, "conflict", "MFA is off: there are no recovery codes to renew.")
    factors.prove(user, factors.code(user, payload["code"]))
    codes = mfa.new_recovery_codes(user)
    db.session.commit()
    return {"recovery_codes": codes}


@blp.route("users/me/mfa/disable", methods=["POST"])
@blp.rate_limited("login")
@blp.fresh_auth_required
@blp.arguments(CodeSchema)
@blp.response(204)
@blp.alt_response(
    409,
    schema=ErrorSchema,
    description="conflict: MFA is off already, or the account has a role in MFA_REQUIRED_ROLES.",
)
def disable_totp(payload):
    """Turn MFA off with a code from the app or a recovery code (not for an account whose
    roles require MFA)."""
    user = current_user()
    if not user.mfa_enabled:
        raise ApiError(409, "conflict", "MFA is off already.")
    if not mfa_policy.has_passkey(user):
        mfa_policy.refuse_if_required(user)
    factors.prove(user, factors.code(user, payload["code"], recovery=True))
    mfa.turn_off(user)
    db.session.commit()
    return "", 204


@blp.route("users/<int:user_id>/mfa")
class UserMfa(MethodView):
    @blp.auth_required(USERS_WRITE, session=True)
    @blp.response(204)
    @blp.alt_response(404, schema=ErrorSchema, description="not_found: no user has that id.")
    def delete(self, user_id: int):
        """Turn a user's MFA off (a lost device): every session of theirs ends."""
        user = user_or_404(user_id)
        roles.refuse_escalation(roles.grants(user.rolenames))
        mfa.reset(user)
        db.session.commit()
        return "", 204
