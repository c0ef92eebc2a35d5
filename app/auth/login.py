"""Signing in: checking a password, upgrading its hash, and issuing the token."""

import time

import jwt
from flask_praetorian.exceptions import AuthenticationError, InvalidUserError

from app.extensions import db, guard
from app.models import User
from app.models.columns import utcnow


def authenticate(username: str, password: str) -> User:
    """The user these credentials belong to, or ``AuthenticationError``.

    Not ``guard.authenticate``: that skips hashing for unknown usernames (a timing oracle) and
    verifies legacy hashes twice. Here every attempt costs one verification, and a hash made
    with a deprecated scheme (pbkdf2_sha512) is replaced by an argon2id hash and saved.
    """
    user = User.lookup(username)
    if user is None:
        guard.spend_verify_time(password)
        raise AuthenticationError("The username or password is incorrect")
    valid, upgraded_hash = guard.pwd_ctx.verify_and_update(password, user.password)
    if not valid:
        raise AuthenticationError("The username or password is incorrect")
    InvalidUserError.require_condition(user.is_active, "The account is disabled")
    if upgraded_hash:
        user.password = upgraded_hash
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def token_response(token: str) -> dict:
    """The body returned by every endpoint that issues an access token."""
    expires_at = jwt.decode(token, options={"verify_signature": False})["exp"]
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": max(0, expires_at - int(time.time())),
    }
