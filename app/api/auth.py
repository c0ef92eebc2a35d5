"""Tokens: signing in, refreshing, signing out."""

from flask import current_app
from flask_praetorian.utilities import get_jwt_data_from_app_context

from app.api.blueprint import Blueprint
from app.api.docs import BEARER_SCHEME
from app.auth.login import authenticate, token_response
from app.auth.revocation import revoke_token
from app.errors import error_response_doc
from app.extensions import db, guard, limiter
from app.schemas.auth import LoginSchema, TokenSchema
from app.schemas.common import ErrorSchema

blp = Blueprint("auth", __name__, url_prefix="/", description="Tokens.")


@blp.route("login", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"])
@blp.arguments(LoginSchema)
@blp.response(200, TokenSchema)
@blp.alt_response(401, schema=ErrorSchema, description="Unknown user or wrong password.")
@blp.alt_response(429, schema=ErrorSchema, description="Too many attempts (see Retry-After).")
def login(credentials):
    """Exchange a username and password for an access token."""
    user = authenticate(credentials["username"], credentials["password"])
    token = guard.encode_jwt_token(user)
    db.session.commit()
    return token_response(token)


@blp.route("refresh", methods=["POST"])
@blp.doc(
    security=[{BEARER_SCHEME: []}],
    description="Send the expired token as the bearer token. Refused with 425 while its access "
    "has not expired yet, and with 401 once its refresh window has passed.",
    responses={
        "401": error_response_doc(
            "No usable token: missing_token, invalid_token, token_expired or token_revoked."
        ),
        "403": error_response_doc("account_disabled."),
    },
)
@blp.response(200, TokenSchema)
@blp.alt_response(425, schema=ErrorSchema, description="The token's access has not expired.")
def refresh():
    """Exchange a token whose access expired, within its refresh window, for a new one."""
    return token_response(guard.refresh_jwt_token(guard.read_token()))


@blp.route("logout", methods=["POST"])
@blp.auth_required
@blp.response(204)
def logout():
    """Revoke the token this request carries; the user's other tokens stay valid."""
    revoke_token(get_jwt_data_from_app_context())
    db.session.commit()
