"""Access tokens: JWTs any service can verify with Gatehouse's published keys.

A token names its user (``id``, ``sub``), roles (``rls``), session (``sid``) and the session's
generation (``gen``), and when minted for an organization its id and the user's roles there
(``org_id``, ``org_roles``), with the registered claims ``iss`` (``JWT_ISSUER``), ``aud``
(``JWT_AUDIENCE``), ``iat``, ``exp`` and ``jti``; its header names the key that signed it
(``kid``, ``app.tokens.keys``). PyJWT signs and verifies; reading a token here checks only what
the token itself can prove (signature, algorithm of its key, expiry, issuer, audience, claims
present). Whether its session is still live is the guard's question (``app.access.bearer``).
"""

import time
import uuid

import jwt
from flask import current_app

from app.errors import ApiError
from app.models import User, UserSession
from app.tokens import claims, keys


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


def read(token: str) -> dict:
    """The verified claims of an access token; 401 ``invalid_token`` (a key we do not publish,
    an algorithm other than its key's, a bad signature, issuer or audience, a missing claim)
    or ``token_expired``."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.InvalidTokenError as error:
        raise invalid("The token is not a JWT.") from error
    # (equivalent mutant: "or True"; PyJWT refuses a kid that is not a string, and no key has
    # the kid None.)
    key = keys.verifying_key(kid) if isinstance(kid, str) else None
    if key is None:
        raise invalid("The token names no key of ours.")
    config = current_app.config
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
        raise invalid("The token is invalid.") from error


def invalid(message: str) -> ApiError:
    return ApiError(401, "invalid_token", message)
