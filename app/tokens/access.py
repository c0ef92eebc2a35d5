"""Access tokens: JWTs any service can verify with Gatehouse's published keys.

A token names its user (``id``, ``sub``), roles (``rls``), session (``sid``) and the session's
generation (``gen``), and when minted for an organization its id and the user's roles there
(``org_id``, ``org_roles``), with the registered claims ``iss`` (``JWT_ISSUER``), ``aud``
(``JWT_AUDIENCE``), ``iat``, ``exp`` and ``jti``; its header names the key that signed it
(``kid``, ``app.tokens.keys``). PyJWT signs and verifies; reading a token here checks only what
the token itself can prove (signature, algorithm of its key, expiry, issuer, audience, claims
present). Whether its session is still live is the guard's question (``app.access.bearer``).

A measured fast path (``token_cache`` in ``FAST_PATHS``, bench/README.md) makes reading
cheaper without checking less: a token this process verified before is found in
``app.tokens.verified`` (its claims, until its ``exp``, for as long as the keys, issuer and
audience stay the same).
"""

import time
import uuid
from collections.abc import Mapping

import jwt
from flask import Flask, current_app

from app.errors import ApiError
from app.models import User, UserSession
from app.tokens import claims, keys
from app.tokens.verified import VerifiedTokens, digest

VERIFIED_TOKENS = "gatehouse.verified_tokens"


def mint(user: User, session: UserSession, lifespan: int, membership=None) -> str:
    """An access token for ``session`` of ``user``, good for ``lifespan`` seconds; with
    ``membership``, bound to its organization (``org_id``, and ``org_roles`` as of now)."""
    config = current_app.config
    now = int(time.time())
    key = keys.signing_key_now()
    payload = {
        claims.ISSUER: config["JWT_ISSUER"],
        claims.AUDIENCE: config["JWT_AUDIENCE"],
        claims.SUBJECT: str(user.user_id),
        claims.USER: user.user_id,
        claims.ROLES: ",".join(user.rolenames),
        claims.TOKEN_ID: uuid.uuid4().hex,
        claims.ISSUED_AT: now,
        claims.EXPIRES: now + lifespan,
        claims.SESSION: session.id,
        claims.GENERATION: session.generation,
    }
    if membership is not None:
        payload[claims.ORGANIZATION] = membership.organization_id
        payload[claims.ORGANIZATION_ROLES] = list(membership.roles)
    return jwt.encode(payload, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid})


def init_app(app: Flask) -> None:
    """The cache of this app's verified access tokens (``ACCESS_TOKEN_CACHE_SIZE`` entries)."""
    app.extensions[VERIFIED_TOKENS] = VerifiedTokens(app.config["ACCESS_TOKEN_CACHE_SIZE"])


def read(token: str) -> Mapping:
    """The verified claims of an access token (read-only); 401 ``invalid_token`` (a key we do
    not publish, an algorithm other than its key's, a bad signature, issuer or audience, a
    missing claim) or ``token_expired``."""
    app = current_app._get_current_object()
    config = app.config
    if "token_cache" not in config["FAST_PATHS"]:
        return verify(token, config)
    cache = app.extensions[VERIFIED_TOKENS]
    key = digest(token)
    verifier = (keys.published_kids(), config["JWT_ISSUER"], config["JWT_AUDIENCE"])
    known = cache.get(key, verifier)
    if known is not None:
        return known
    return cache.put(key, verify(token, config), verifier)


def verify(token: str, config) -> dict:
    """PyJWT's verification of ``token`` with the key its header names."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.InvalidTokenError as error:
        raise invalid("The token is not a JWT.") from error
    # (equivalent mutant: "or True"; PyJWT refuses a kid that is not a string, and no key has
    # the kid None.)
    key = keys.verifying_key(kid) if isinstance(kid, str) else None
    if key is None:
        raise invalid("The token names no key of ours.")
    try:
        return jwt.decode(
            token,
            key.public_key,
            algorithms=[key.algorithm],
            audience=config["JWT_AUDIENCE"],
            issuer=config["JWT_ISSUER"],
            options={"require": claims.ACCESS_REQUIRED},
        )
    except jwt.ExpiredSignatureError as error:
        raise ApiError(401, "token_expired") from error
    except jwt.InvalidTokenError as error:
        # (equivalent mutant: invalid(None); the envelope's message for invalid_token is this
        # same sentence, app.errors.MESSAGES.)
        raise invalid("The token is invalid.") from error


def invalid(message: str) -> ApiError:
    return ApiError(401, "invalid_token", message)
