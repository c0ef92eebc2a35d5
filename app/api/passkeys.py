"""Passkeys (WebAuthn): yours to add (from a fresh session), list and remove, and a way to sign
in with one, no username needed. How each ceremony is checked is ``app.accounts.passkeys``."""

from flask import url_for
from flask.views import MethodView

from app.access.permissions import SESSION
from app.accounts import passkeys
from app.api.blueprint import Blueprint
from app.extensions import db
from app.guard import current_user
from app.models import Passkey
from app.pagination import Order, paginate
from app.schemas.auth import TokenSchema
from app.schemas.common import ErrorSchema
from app.schemas.passkey import (
    CreationOptionsSchema,
    PasskeyCreateSchema,
    PasskeyListArgsSchema,
    PasskeyLoginSchema,
    PasskeyPageSchema,
    PasskeySchema,
    RequestOptionsSchema,
)
from app.signin.passkey import with_passkey
from app.tokens.transport import respond_with_tokens

blp = Blueprint("passkeys", __name__, url_prefix="/", description="Passkeys (WebAuthn).")

OLDEST_FIRST = Order((Passkey.id,))
REFUSED = {
    "schema": ErrorSchema,
    "description": "invalid_credentials: the answer does not verify (its challenge is used or "
    "expired, another site's, another account's passkey, or no user verification).",
}


@blp.route("users/me/passkeys/options", methods=["POST"])
@blp.fresh_auth_required
@blp.rate_limited("ceremonies", per="user")
@blp.response(200, CreationOptionsSchema)
def registration_options():
    """Options for navigator.credentials.create: the first step of adding a passkey (the
    challenge works once, for 5 minutes)."""
    options = passkeys.registration_options(current_user())
    db.session.commit()
    return options


@blp.route("users/me/passkeys")
class MyPasskeys(MethodView):
    @blp.auth_required(SESSION)
    @blp.list_arguments(PasskeyListArgsSchema)
    @blp.response(200, PasskeyPageSchema)
    def get(self, args):
        """List your passkeys, the oldest first."""
        return paginate(passkeys.of_user(current_user()), args, OLDEST_FIRST, PasskeySchema)

    @blp.auth_required(SESSION)
    @blp.arguments(PasskeyCreateSchema)
    @blp.response(201, PasskeySchema)
    @blp.alt_response(401, **REFUSED)
    @blp.alt_response(409, schema=ErrorSchema, description="conflict: registered already.")
    def post(self, values):
        """Add a passkey: the browser's answer to the options (e-mailed to you as a notice)."""
        passkey = passkeys.register(current_user(), values["credential"], values.get("name"))
        db.session.commit()
        location = url_for("passkeys.remove_passkey", passkey_id=passkey.id)
        return passkey, 201, {"Location": location}


@blp.route("users/me/passkeys/<int:passkey_id>", methods=["DELETE"])
@blp.fresh_auth_required
@blp.alt_response(404, schema=ErrorSchema, description="not_found: you have no such passkey.")
@blp.alt_response(
    409,
    schema=ErrorSchema,
    description="conflict: your last second factor, and your roles require one.",
)
@blp.response(204)
def remove_passkey(passkey_id: int):
    """Remove one of your passkeys: it no longer signs in."""
    user = current_user()
    passkeys.remove(user, passkeys.passkey_of(user, passkey_id))
    db.session.commit()


@blp.route("login/passkey/options", methods=["POST"])
@blp.rate_limited("login")
@blp.response(200, RequestOptionsSchema)
def sign_in_options():
    """Options for navigator.credentials.get: for /login/passkey, for a passkey as the second
    step of /login/mfa, and for /reauthenticate (the challenge works once, for 5 minutes)."""
    options = passkeys.authentication_options()
    db.session.commit()
    return options


@blp.route("login/passkey", methods=["POST"])
@blp.rate_limited("login")
@blp.arguments(PasskeyLoginSchema)
@blp.response(200, TokenSchema)
@blp.alt_response(401, **REFUSED)
@blp.alt_response(403, schema=ErrorSchema, description="account_disabled.")
def login_passkey(payload):
    """Sign in with a passkey, no username needed: a new session, with MFA satisfied."""
    answer = with_passkey(payload["credential"])
    db.session.commit()
    return respond_with_tokens(answer, TokenSchema)
