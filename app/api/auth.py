"""Tokens: signing in (a new session), refreshing (rotation), signing out (the session ends),
and confirming one's password again (a fresh session). How each works is in ``app.auth``
(sign-in, sessions, factors); how tokens travel, browser mode included, in
``app.tokens.transport``."""

from flask import make_response

from app.api.blueprint import Blueprint
from app.auth import factors, mfa, signin
from app.auth.guard import current_user
from app.auth.sessions import (
    current_session,
    current_token_id,
    end_session,
    mark_authenticated,
    rotate,
)
from app.extensions import db
from app.schemas.auth import (
    LoginAnswerSchema,
    LoginSchema,
    ReauthenticateSchema,
    RefreshSchema,
    TokenSchema,
)
from app.schemas.common import ErrorSchema
from app.tokens.transport import (
    forget_refresh_cookie,
    presented_refresh_token,
    refuse_cross_site,
    respond_with_tokens,
    session_answer,
)

blp = Blueprint("auth", __name__, url_prefix="/", description="Tokens and sessions.")


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
    answer = signin.with_password(credentials["username"], credentials["password"])
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
    user, session, refresh_token = rotate(presented_refresh_token(payload.get("refresh_token")))
    mfa.refuse_session_without_mfa(user)
    answer = session_answer(user, session, refresh_token)
    db.session.commit()
    return respond_with_tokens(answer, TokenSchema)


@blp.route("logout", methods=["POST"])
@blp.auth_required(scope="session")
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
    scope="session",
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
    user = current_user()
    factors.prove(user, *factors.reauthentication(user, payload))
    mark_authenticated(current_session(), current_token_id())
    db.session.commit()
    return "", 204
