"""Signing in: checking a password, upgrading its hash, and issuing the token."""

import math
import time
from datetime import timedelta

import jwt
from flask import current_app
from flask_praetorian.exceptions import AuthenticationError, InvalidUserError
from sqlalchemy import bindparam, update

from app.database import execute_alone
from app.errors import ApiError
from app.extensions import db, guard
from app.models import User
from app.models.columns import utcnow

# A Core UPDATE, built once: it sets the columns its parameters name (and ``updated_at``). The
# ORM's bulk update would also build the statement and sync the session on every login. Its
# commit does not wait for the disk (see ``commit_without_waiting``): a crash may lose the
# last logins' times, and an upgraded hash then stays the old one until the next login.
LOGIN_BOOKKEEPING = (
    update(User.__table__)
    .where(User.__table__.c.user_id == bindparam("login_user_id"))
    .execution_options(asynchronous_commit=True)
)


def authenticate(username: str, password: str) -> User:
    """The user these credentials belong to, or ``AuthenticationError``.

    Not ``guard.authenticate``: that skips hashing for unknown usernames (a timing oracle) and
    verifies legacy hashes twice. Here every attempt costs one verification, and a hash made
    with a deprecated scheme (pbkdf2_sha512) is replaced by an argon2id hash.

    A failed attempt is committed here (the error ends the request). A successful one writes
    its bookkeeping (last login, cleared failures, upgraded hash) in one statement, committed
    on its own unless the request has a transaction open (then the caller commits it). Under
    load every round trip waits for a core busy hashing, so a login makes two: the look-up and
    that statement.
    """
    user = User.lookup(username)
    if user is None:
        guard.spend_verify_time(password)
        raise AuthenticationError("The username or password is incorrect")
    refuse_if_locked(user)
    valid, upgraded_hash = guard.pwd_ctx.verify_and_update(password, user.password)
    if not valid:
        record_failed_login(user)
        raise AuthenticationError("The username or password is incorrect")
    InvalidUserError.require_condition(user.is_active, "The account is disabled")
    bookkeeping = {"last_login_at": utcnow(), "failed_login_count": 0, "locked_until": None}
    if upgraded_hash:
        bookkeeping["password"] = upgraded_hash
    execute_alone(LOGIN_BOOKKEEPING, {"login_user_id": user.user_id, **bookkeeping})
    return user


def refuse_if_locked(user: User) -> None:
    """429 while the account is locked, whatever the password; a lapsed lock starts afresh."""
    now = utcnow()
    if user.locked_until is None:
        return
    if user.locked_until <= now:
        user.failed_login_count = 0
        user.locked_until = None
        return
    retry_after = math.ceil((user.locked_until - now).total_seconds())
    raise ApiError(
        429,
        "rate_limited",
        "Too many failed logins: the account is locked for a while.",
        headers={"Retry-After": str(retry_after)},
    )


def record_failed_login(user: User) -> None:
    """Count the failure (atomically: parallel attempts all count) and lock at the limit.

    A lapsed lock cleared by ``refuse_if_locked`` is flushed before the increment.
    """
    config = current_app.config
    failures = db.session.execute(
        update(User)
        .where(User.user_id == user.user_id)
        .values(failed_login_count=User.failed_login_count + 1)
        .returning(User.failed_login_count)
    ).scalar_one()
    if failures >= config["LOGIN_MAX_FAILURES"]:
        user.locked_until = utcnow() + timedelta(seconds=config["LOGIN_LOCKOUT"])
    db.session.commit()


def token_response(token: str) -> dict:
    """The body returned by every endpoint that issues an access token."""
    expires_at = jwt.decode(token, options={"verify_signature": False})["exp"]
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": max(0, expires_at - int(time.time())),
    }
