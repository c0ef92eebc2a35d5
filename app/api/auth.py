"""Signing in."""

from flask_smorest import Blueprint

from app.auth.login import authenticate, token_response
from app.schemas.common import ErrorSchema
from app.schemas.user import LoginSchema, TokenSchema

blp = Blueprint("auth", __name__, url_prefix="/", description="Tokens.")


@blp.route("login", methods=["POST"])
@blp.arguments(LoginSchema)
@blp.response(200, TokenSchema)
@blp.alt_response(
    401, schema=ErrorSchema, description="Unknown user or wrong password (one answer for both)."
)
def login(credentials):
    """Exchange a username and password for an access token."""
    user = authenticate(credentials["username"], credentials["password"])
    return token_response(user)
