"""The flask-praetorian guard, extended with the checks praetorian leaves to the application.

praetorian's decorators trust a token until it expires. Each time praetorian reads a token
(every protected request, reset and confirmation), PyJWT verifies it and praetorian checks its
claims, as they always do; then the token's user is loaded, in one statement with the state of
the session an access token names, and the token is refused if its session ended or expired
(logout, a password change, an admin, theft of its refresh token...), if the user is gone, if an
e-mailed token's version moved on (``app.auth.revocation``), or if the account is disabled.
Nothing is cached: every worker and instance refuses an ended session on the very next request.
This is the one place those rules live: views only use the access decorators
(``app/api/blueprint.py``).
"""

import re
import secrets
from datetime import UTC, datetime

import flask
from flask_praetorian import Praetorian
from flask_praetorian.constants import AccessType
from flask_praetorian.exceptions import (
    BlacklistedError,
    ExpiredAccessError,
    InvalidTokenHeader,
    InvalidUserError,
    MissingToken,
)
from flask_praetorian.utilities import current_guard, current_user_id

TOKEN_VERSION_CLAIM = "tv"  # noqa: S105 (a claim name, not a secret)
# RFC 6750 2.1: "Bearer" 1*SP b64token, b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" /
# "+" / "/" ) *"=" (one space: more is not what the grammar allows).
BEARER_HEADER = re.compile(r"Bearer ([A-Za-z0-9\-._~+/]+=*)")
SESSION_CLAIM = "sid"


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

    def read_token_from_header(self):
        """The bearer token of the ``Authorization`` header, exactly as RFC 6750 writes it
        (``Bearer`` and one space, then the token's characters and nothing else); praetorian's
        own reading takes the first token-looking run of characters and ignores the rest."""
        header = flask.request.headers.get("Authorization")
        if header is None:
            raise MissingToken("No Authorization header")
        match = BEARER_HEADER.fullmatch(header)
        if match is None:
            raise InvalidTokenHeader("The Authorization header is not 'Bearer <token>'")
        return match.group(1)

    def extract_jwt_token(self, token, access_type=AccessType.access):
        """The token's claims, verified by PyJWT and checked by praetorian, then held against
        the database in one statement: the user still exists and may sign in, an access token's
        session is live, an e-mailed token is current."""
        data = super().extract_jwt_token(token, access_type=access_type)
        session_id = data.get(SESSION_CLAIM) if access_type == AccessType.access else None
        user, session = self.user_class.token_subject(data["id"], session_id)
        if user is None:
            raise TokenRevokedError("The token was revoked")
        if access_type == AccessType.access:
            _check_session(session)
        elif data.get(TOKEN_VERSION_CLAIM) != user.token_version:
            raise TokenRevokedError("The token was revoked")
        if access_type != AccessType.register and not user.may_sign_in:
            raise InvalidUserError("The account is disabled")
        # The request keeps the user (the session only holds it weakly), so ``current_user()``
        # finds it in the session's identity map instead of loading it again.
        flask.g.authenticated_user = user
        flask.g.authenticated_user_id = user.user_id
        flask.g.authenticated_session_id = session_id
        return data


def _check_session(session) -> None:
    """An access token's session, as ``User.token_subject`` read it, must be live."""
    if session is None:
        raise TokenRevokedError("The token names no session of its user")
    _, ended_at, expires_at, idle_expires_at, authenticated_at = session
    flask.g.authenticated_at = authenticated_at
    if ended_at is not None:
        raise TokenRevokedError("The session has ended")
    if datetime.now(UTC) >= min(expires_at, idle_expires_at):
        raise ExpiredAccessError("The session has expired")


def current_user():
    """The signed-in ``User``, like praetorian's ``current_user()`` (the guard has loaded it
    already, so this costs no query), except that a user deleted by a concurrent request is a
    revoked token (401), not an internal error."""
    user = current_guard().user_class.identify(current_user_id())
    TokenRevokedError.require_condition(user is not None, "The token was revoked")
    return user
