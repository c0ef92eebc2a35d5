"""Personal access tokens: yours to create (from a fresh session), see and revoke; any user's
for staff to see, and for admins to revoke. How they work is ``app.accounts.personal_tokens``."""

from flask import url_for
from flask.views import MethodView
from flask_praetorian import current_user_id

from app.access.permissions import SESSION, USERS_INSPECT, USERS_WRITE
from app.accounts import personal_tokens
from app.api.blueprint import Blueprint
from app.api.lookup import user_or_404
from app.extensions import db
from app.guard import current_user
from app.models import PersonalToken
from app.pagination import Order, paginate
from app.schemas.common import ErrorSchema
from app.schemas.personal_token import (
    NewPersonalTokenSchema,
    PersonalTokenCreateSchema,
    PersonalTokenListArgsSchema,
    PersonalTokenPageSchema,
    PersonalTokenSchema,
)

blp = Blueprint(
    "personal_tokens", __name__, url_prefix="/users", description="Personal access tokens."
)

NEWEST_FIRST = Order((PersonalToken.id,), descending=True)
NO_SUCH_TOKEN = {"schema": ErrorSchema, "description": "not_found: no token of that user has it."}


@blp.route("/me/tokens")
class MyTokens(MethodView):
    @blp.auth_required(SESSION)
    @blp.list_arguments(PersonalTokenListArgsSchema)
    @blp.response(200, PersonalTokenPageSchema)
    def get(self, args):
        """List your personal access tokens (never their secrets), the newest first."""
        statement = personal_tokens.of_user(current_user_id())
        return paginate(statement, args, NEWEST_FIRST, PersonalTokenSchema)

    @blp.fresh_auth_required
    @blp.alt_response(409, schema=ErrorSchema, description="conflict: too many tokens.")
    @blp.arguments(PersonalTokenCreateSchema)
    @blp.response(201, NewPersonalTokenSchema)
    def post(self, values):
        """Create a personal access token with some of your scopes: the answer holds its
        secret, this once."""
        token, secret = personal_tokens.create(
            current_user(),
            values["name"],
            values["scopes"],
            values.get("expires_in"),
            values.get("organization_id"),
        )
        db.session.commit()
        location = url_for("personal_tokens.end_my_token", token_id=token.id)
        shown = {name: getattr(token, name) for name in PersonalTokenSchema().fields}
        return {**shown, "token": secret}, 201, {"Location": location}


@blp.route("/me/tokens/<int:token_id>", methods=["DELETE"])
@blp.auth_required(SESSION)
@blp.alt_response(404, **NO_SUCH_TOKEN)
@blp.response(204)
def end_my_token(token_id: int):
    """Revoke one of your tokens: it stops working on the next request."""
    personal_tokens.revoke(personal_tokens.token_of(current_user_id(), token_id))
    db.session.commit()


@blp.route("/<int:user_id>/tokens")
@blp.auth_required(USERS_INSPECT, session=True)
@blp.alt_response(404, schema=ErrorSchema, description="No user has that id (not_found).")
@blp.list_arguments(PersonalTokenListArgsSchema)
@blp.response(200, PersonalTokenPageSchema)
def user_tokens(args, user_id: int):
    """List a user's personal access tokens, the newest first."""
    user = user_or_404(user_id)
    return paginate(personal_tokens.of_user(user.user_id), args, NEWEST_FIRST, PersonalTokenSchema)


@blp.route("/<int:user_id>/tokens/<int:token_id>", methods=["DELETE"])
@blp.auth_required(USERS_WRITE, session=True)
@blp.alt_response(404, **NO_SUCH_TOKEN)
@blp.response(204)
def end_user_token(user_id: int, token_id: int):
    """Revoke a user's token."""
    personal_tokens.revoke(personal_tokens.token_of(user_or_404(user_id).user_id, token_id))
    db.session.commit()
