"""Signing in (a new session: a password, its second step, an enrolment the roles require),
refreshing (rotation), signing out (the session ends), and confirming it is you again (a fresh
session). Each view is one call into its service in ``app.signin``; how tokens travel, browser
mode included, is ``app.tokens.transport``."""

from flask import make_response

from app.access.permissions import SESSION
from app.access.sessions import current_session, end_session
from app.api.blueprint import Blueprint
from app.extensions import db
from app.guard import current_user
from app.schemas.auth import (
    EnrolledSchema,
    EnrolmentConfirmSchema,
    EnrolmentSchema,
    LoginAnswerSchema,
    LoginSchema,
    MfaLoginSchema,
    ReauthenticateSchema,
    RefreshSchema,
    TokenSchema,
    TotpEnrolmentSchema,
)
from app.schemas.common import ErrorSchema
from app.signin import enrolment, password, reauthentication
from app.signin.refresh import with_refresh_token
from app.tokens.transport import (
    forget_refresh_cookie,
    presented_refresh_token,
    refuse_cross_site,
    respond_with_tokens,
)

WRONG_CODE = {
    "schema": ErrorSchema,
    "description": "invalid_credentials: the code is wrong (counted like a failed login).",
}

blp = Blueprint(
    "auth",
    __name__,
    url_prefix="/",
    description="Tokens and sessions.",
    links={"login": "auth.login"},
)


@blp.route("login", methods=["POST"])
@blp.rate_limited("login")
@blp.arguments(LoginSchema)
@blp.response(200, LoginAnswerSchema)
@blp.alt_response(401, schema=ErrorSchema, description="Unknown user or wrong password.")
@blp.alt_response(
    403,
    schema=ErrorSchema,
    description="account_disabled, or mfa_enrollment_required: the account has a role in "
    "MFA_REQUIRED_ROLES and no MFA yet; details.enrollment_token (for details.expires_in "
    "seconds) is good for POST /login/mfa/enroll and /login/mfa/enroll/confirm only.",
)
def login(credentials):
    """Start a session: exchange a username and password for an access and a refresh token
    (with MFA on: for an mfa_token, to finish at POST /login/mfa)."""
    answer = password.with_password(credentials["username"], credentials["password"])
    db.session.commit()
    return answer if answer.get("mfa_required") else respond_with_tokens(answer, TokenSchema)


@blp.route("refresh", methods=["POST"])
@blp.rate_limited("refresh")
@blp.arguments(RefreshSchema)
@blp.response(200, TokenSchema)
@blp.alt_response(
    401,
    schema=ErrorSchema,
    description="missing_token, invalid_token (not one of ours), token_expired (the session "
    "expired) or token_revoked (the session ended, or the token was used already: the session "
    "ends).",
)
@blp.alt_response(
    403,
    schema=ErrorSchema,
    description="account_disabled; mfa_enrollment_required (the account's roles require MFA "
    "and it has none: sign in again to enrol); in browser mode, forbidden without "
    "X-Requested-With.",
)
def refresh(payload):
    """Exchange the session's refresh token for new tokens, at any time; the token presented
    is retired, and presenting it again ends the session."""
    refuse_cross_site()
    answer = with_refresh_token(
        presented_refresh_token(payload.get("refresh_token")), payload.get("organization_id")
    )
    db.session.commit()
    return respond_with_tokens(answer, TokenSchema)


@blp.route("logout", methods=["POST"])
@blp.auth_required(SESSION)
@blp.response(204)
def logout():
    """End the session of this access token: its access and refresh tokens stop working."""
    refuse_cross_site()
    end_session(current_session(), "logout")
    db.session.commit()
    return forget_refresh_cookie(make_response("", 204))


@blp.route("reauthenticate", methods=["POST"])
@blp.rate_limited("login")
@blp.auth_required(
    SESSION,
    unauthorized="invalid_credentials (the password or code is wrong, see details; counted "
    "like a failed login), or no usable token: missing_token, invalid_token, token_expired or "
    "token_revoked.",
)
@blp.arguments(ReauthenticateSchema)
@blp.response(204)
def reauthenticate(payload):
    """Confirm it is you (a passkey, or the password and, with a second factor, a code or a
    passkey): for REAUTH_WINDOW seconds this access token, and those its session gets from now
    on, may make sensitive changes."""
    reauthentication.reauthenticate(current_user(), payload)
    db.session.commit()
    return "", 204


@blp.route("login/mfa", methods=["POST"])
@blp.rate_limited("login")
@blp.arguments(MfaLoginSchema)
@blp.response(200, TokenSchema)
@blp.alt_response(401, **WRONG_CODE)
def login_mfa(payload):
    """Finish a sign-in of an account with a second factor: the mfa_token and a code, a
    recovery code, or a passkey's answer to /login/passkey/options. The mfa_token works once."""
    answer = password.with_second_factor(payload["mfa_token"], payload)
    db.session.commit()
    return respond_with_tokens(answer, TokenSchema)


@blp.route("login/mfa/enroll", methods=["POST"])
@blp.rate_limited("login")
@blp.arguments(EnrolmentSchema)
@blp.response(200, TotpEnrolmentSchema)
def enrol(payload):
    """For an account that must use MFA (MFA_REQUIRED_ROLES): a TOTP secret to enrol with,
    using the enrollment_token of its login's 403."""
    secret = enrolment.enrolment_secret(payload["enrollment_token"])
    db.session.commit()
    return secret


@blp.route("login/mfa/enroll/confirm", methods=["POST"])
@blp.rate_limited("login")
@blp.arguments(EnrolmentConfirmSchema)
@blp.response(200, EnrolledSchema)
@blp.alt_response(401, **WRONG_CODE)
def confirm_enrolment(payload):
    """Finish the enrolment with a first code: MFA is on, a session starts, and the answer
    holds its tokens and the recovery codes (once). The enrollment_token works once."""
    answer = enrolment.with_enrolment(payload["enrollment_token"], payload["code"])
    db.session.commit()
    return respond_with_tokens(answer, EnrolledSchema)
