"""The flask-praetorian guard, extended with the checks praetorian leaves to the application.

praetorian's decorators trust a token until it expires. Every token Gatehouse issues carries the
user's token version; each time praetorian validates a token (every protected request, refresh,
reset and confirmation), the token's subject is loaded, in one statement with the token's
revocation status, and the token is refused if it was revoked (logout), if the user is gone, if
the version moved on (password, role or status changed), or if the account is disabled. This is
the one place those rules live: views only use praetorian's decorators.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any, NamedTuple

import flask
import jwt
from flask_praetorian import Praetorian
from flask_praetorian.constants import (
    IS_REGISTRATION_TOKEN_CLAIM,
    IS_RESET_TOKEN_CLAIM,
    REFRESH_EXPIRATION_CLAIM,
    AccessType,
)
from flask_praetorian.exceptions import (
    BlacklistedError,
    ExpiredAccessError,
    InvalidUserError,
    MissingClaimError,
    MisusedRegistrationToken,
    MisusedResetToken,
)
from flask_praetorian.utilities import current_guard, current_user_id

TOKEN_VERSION_CLAIM = "tv"  # noqa: S105 (a claim name, not a secret)
# The claims every access token must carry after its ``jti`` (praetorian's order and messages).
ACCESS_CLAIMS = (
    ("id", "Token is missing id field"),
    ("exp", "Token is missing exp claim"),
    (REFRESH_EXPIRATION_CLAIM, f"Token is missing {REFRESH_EXPIRATION_CLAIM} claim"),
)
HMAC_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


class TokenSubject(NamedTuple):
    """A token's user id, its account (``app.models.user.Account``; None when deleted) and
    whether its ``jti`` was revoked."""

    jti: str
    user_id: int
    account: Any
    revoked: bool


class TokenRevokedError(BlacklistedError):
    """The token was valid once, but it was revoked or its user changed since it was issued."""

    status_code = 401


class GatehouseGuard(Praetorian):
    """Praetorian with argon2id parameters, token versions and per-request account checks."""

    def init_app(self, app=None, user_class=None, *args, **kwargs):
        """Initialize praetorian, then pin argon2id's cost parameters from the config."""
        result = super().init_app(app, user_class, *args, **kwargs)
        self._dummy_hash = None
        self._own_tokens = OwnTokenVerifier.for_guard(self)
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

    def issued_claims(self, token: str) -> dict:
        """The claims of a token this guard has just issued, without PyJWT's parsing: a token
        we signed is read by ``OwnTokenVerifier``; another signing setup goes through PyJWT."""
        claims = self._own_tokens.claims(token) if self._own_tokens else None
        if claims is None:
            claims = jwt.decode(token, options={"verify_signature": False})
        return claims

    def extract_jwt_token(self, token, access_type=AccessType.access):
        """The token's claims, checked. Tokens this API signed take the short way (one HMAC over
        the exact bytes); anything else goes through PyJWT, which refuses it with its reason."""
        data = self._own_tokens.claims(token) if self._own_tokens else None
        if data is None:
            return super().extract_jwt_token(token, access_type=access_type)
        self._validate_jwt_data(data, access_type=access_type)
        return data

    def _validate_jwt_data(self, data, access_type):
        """Load the subject, run praetorian's checks (its ``is_blacklisted`` hook reads the
        subject loaded here; an access token's claims are checked by the copy below), then:
        the user still exists, is current and may sign in."""
        if "jti" in data and "id" in data:
            account, revoked = self.user_class.token_subject(data["id"], data["jti"])
            flask.g.token_subject = TokenSubject(data["jti"], data["id"], account, revoked)
        if access_type == AccessType.access:
            self._validate_access_claims(data)
        else:
            super()._validate_jwt_data(data, access_type=access_type)
        account = flask.g.token_subject.account
        if account is None or data.get(TOKEN_VERSION_CLAIM) != account.token_version:
            raise TokenRevokedError("The token was revoked")
        if access_type != AccessType.register and not account.is_active:
            raise InvalidUserError("The account is disabled")

    def _validate_access_claims(self, data) -> None:
        """praetorian's checks of an access token (``Praetorian._validate_jwt_data`` with
        ``AccessType.access``): the same checks in the same order, with the same errors, on
        every request. Its clock (``pendulum.now("UTC")``, 6 us) and its ``require_condition``
        helper (1 us a check) cost more than the checks; this reads ``time.time()``."""
        if "jti" not in data:
            raise MissingClaimError("Token is missing jti claim")
        if self.is_blacklisted(data["jti"]):
            raise BlacklistedError("Token has a blacklisted jti")
        for claim, message in ACCESS_CLAIMS:
            if claim not in data:
                raise MissingClaimError(message)
        if IS_REGISTRATION_TOKEN_CLAIM in data:
            raise MisusedRegistrationToken("registration token used for access")
        if IS_RESET_TOKEN_CLAIM in data:
            raise MisusedResetToken("password reset token used for access")
        if int(time.time()) > data["exp"]:
            raise ExpiredAccessError("access permission has expired")


def current_user():
    """The signed-in ``User`` (ORM, to change it), like praetorian's ``current_user()``, except
    that a user deleted by a concurrent request after this request's token check is a revoked
    token (401), not an internal error."""
    user = current_guard().user_class.identify(current_user_id())
    TokenRevokedError.require_condition(user is not None, "The token was revoked")
    return user


def current_account():
    """The signed-in user's account as checked with the token on this request (read-only: use
    praetorian's ``current_user()`` to change it)."""
    return flask.g.token_subject.account


class OwnTokenVerifier:
    """Verifies the tokens this API signs, without PyJWT's general-purpose parsing (which costs
    more than the rest of a token check): the header must be byte for byte the one our tokens
    carry, and the signature segment byte for byte the HMAC of header and payload under our
    key. Such a token can only come from us, so its payload is read as is. Any other token
    returns None and is left to PyJWT."""

    def __init__(self, key: bytes, algorithm: str) -> None:
        self._mac = hmac.new(key, digestmod=HMAC_DIGESTS[algorithm])
        self._header = jwt.encode({}, key, algorithm).split(".", 1)[0]

    @classmethod
    def for_guard(cls, guard: Praetorian) -> "OwnTokenVerifier | None":
        """A verifier for ``guard``'s tokens when it signs them with an HMAC it accepts."""
        algorithm = guard.encode_algorithm
        if algorithm not in HMAC_DIGESTS or algorithm not in guard.allowed_algorithms:
            return None
        key = guard.encode_key
        if not key:
            return None
        return cls(key.encode() if isinstance(key, str) else key, algorithm)

    def claims(self, token: str) -> dict | None:
        """The payload of ``token`` if we signed it, else None."""
        header, _, rest = token.partition(".")
        if header != self._header:
            return None
        payload, _, signature = rest.partition(".")
        try:
            signed = token[: len(header) + 1 + len(payload)].encode("ascii")
        except UnicodeEncodeError:
            return None
        mac = self._mac.copy()
        mac.update(signed)
        expected = base64.urlsafe_b64encode(mac.digest()).rstrip(b"=")
        if not hmac.compare_digest(signature.encode("ascii", "replace"), expected):
            return None
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return claims if isinstance(claims, dict) else None
