"""The flask-praetorian guard, extended with the checks praetorian leaves to the application.

praetorian's decorators trust a token until it expires. Every token Gatehouse issues carries the
user's token version. Each time praetorian reads a token (every protected request, refresh,
reset and confirmation), PyJWT verifies it and praetorian checks its claims, as they always do;
then the token's subject is loaded, in one statement with the token's revocation status, and the
token is refused if it was revoked (logout), if the user is gone, if the version moved on
(password, role or status changed), or if the account is disabled. This is the one place those
rules live: views only use the access decorators (``app/api/blueprint.py``).
"""

import secrets

import flask
from flask_praetorian import Praetorian
from flask_praetorian.constants import AccessType
from flask_praetorian.exceptions import BlacklistedError, InvalidUserError
from flask_praetorian.utilities import current_guard, current_user_id

TOKEN_VERSION_CLAIM = "tv"  # noqa: S105 (a claim name, not a secret)


class TokenRevokedError(BlacklistedError):
    """The token was valid once, but it was revoked or its user changed since it was issued."""

    status_code = 401


class GatehouseGuard(Praetorian):
    """Praetorian with argon2id parameters, token versions and per-request account checks."""

    def init_app(self, app=None, user_class=None, *args, **kwargs):
        """Initialize praetorian, then pin argon2id's cost parameters from the config."""
        result = super().init_app(app, user_class, *args, **kwargs)
        self._dummy_hash = None
        self.pwd_ctx.update(
            argon2__type="ID",
            argon2__memory_cost=app.config["ARGON2_MEMORY_COST_KIB"],
            argon2__rounds=app.config["ARGON2_TIME_COST"],
            argon2__parallelism=app.config["ARGON2_PARALLELISM"],
        )
        return result

    def spend_verify_time(self, password: str) -> None:
        """Verify ``password`` against a throwaway hash, so that a login for an unknown user
        costs what a login with a wrong password costs and timing reveals no usernames."""
        if self._dummy_hash is None:
            self._dummy_hash = self.hash_password(secrets.token_urlsafe(32))
        self.pwd_ctx.verify(password, self._dummy_hash)

    def encode_jwt_token(self, user, *args, **custom_claims):
        """Issue a token stamped with the user's current token version."""
        custom_claims[TOKEN_VERSION_CLAIM] = user.token_version
        return super().encode_jwt_token(user, *args, **custom_claims)

    def extract_jwt_token(self, token, access_type=AccessType.access):
        """The token's claims, verified by PyJWT and checked by praetorian, then held against
        the database: the user still exists, the token is current and was not revoked, and the
        account may sign in (one statement)."""
        data = super().extract_jwt_token(token, access_type=access_type)
        user, revoked = self.user_class.token_subject(data["id"], data["jti"])
        if revoked or user is None or data.get(TOKEN_VERSION_CLAIM) != user.token_version:
            raise TokenRevokedError("The token was revoked")
        if access_type != AccessType.register and not user.is_active:
            raise InvalidUserError("The account is disabled")
        # The request keeps the user (the session only holds it weakly), so ``current_user()``
        # finds it in the session's identity map instead of loading it again.
        flask.g.authenticated_user = user
        flask.g.authenticated_user_id = user.user_id
        return data


def current_user():
    """The signed-in ``User``, like praetorian's ``current_user()`` (the guard has loaded it
    already, so this costs no query), except that a user deleted by a concurrent request is a
    revoked token (401), not an internal error."""
    user = current_guard().user_class.identify(current_user_id())
    TokenRevokedError.require_condition(user is not None, "The token was revoked")
    return user
