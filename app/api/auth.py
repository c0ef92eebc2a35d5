"""Tokens: signing in (a new session), refreshing (rotation), signing out (the session ends)."""

from flask import current_app

from app.api.blueprint import Blueprint
from app.auth.login import authenticate
from app.auth.sessions import current_session_id, end_session, rotate, start_session, tokens
from app.extensions import db, limiter
from app.models import UserSession
from app.schemas.auth import LoginSchema, RefreshSchema, TokenSchema
from app.schemas.common import ErrorSchema

blp = Blueprint("auth", __name__, url_prefix="/", description="Tokens and sessions.")


@blp.route("login", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"])
@blp.arguments(LoginSchema)
@blp.response(200, TokenSchema)
@blp.alt_response(401, schema=ErrorSchema, description="Unknown user or wrong password.")
@blp.alt_response(429, schema=ErrorSchema, description="Too many attempts (see Retry-After).")
def login(credentials):
    """Start a session: exchange a username and password for an access and a refresh token."""
    user = authenticate(credentials["username"], credentials["password"])
    session, refresh_token = start_session(user)
    body = tokens(user, session, refresh_token)
    db.session.commit()
    return body


@blp.route("refresh", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_REFRESH"])
@blp.arguments(RefreshSchema)
@blp.response(200, TokenSchema)
@blp.alt_response(
    401,
    schema=ErrorSchema,
    description="invalid_token (not one of ours), token_expired (the session expired) or "
    "token_revoked (the session ended, or the token was used already: the session ends).",
)
@blp.alt_response(403, schema=ErrorSchema, description="account_disabled.")
@blp.alt_response(429, schema=ErrorSchema, description="Too many attempts (see Retry-After).")
def refresh(payload):
    """Exchange the session's refresh token for new tokens, at any time; the token presented
    is retired, and presenting it again ends the session."""
    user, session, refresh_token = rotate(payload["refresh_token"])
    body = tokens(user, session, refresh_token)
    db.session.commit()
    return body


@blp.route("logout", methods=["POST"])
@blp.auth_required
@blp.response(204)
def logout():
    """End the session of this access token: its access and refresh tokens stop working."""
    end_session(db.session.get(UserSession, current_session_id()), "logout")
    db.session.commit()
