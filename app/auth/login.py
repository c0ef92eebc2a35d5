"""Signing in: checking a password, upgrading its hash, and issuing the token."""

import math
from datetime import timedelta

from flask import current_app
from flask_praetorian.exceptions import AuthenticationError, InvalidUserError
from sqlalchemy import case, null, update

from app.errors import ApiError
from app.extensions import db, guard
from app.models import User
from app.models.columns import utcnow


def authenticate(username: str, password: str) -> User:
    """The user these credentials belong to, or ``AuthenticationError``.

    Not ``guard.authenticate``: that skips hashing for unknown usernames (a timing oracle) and
    verifies legacy hashes twice. Here every attempt costs one verification, and a hash made
    with a deprecated scheme (pbkdf2_sha512) is replaced by an argon2id hash.

    A failed attempt is committed here (the error ends the request); a successful one leaves
    its bookkeeping (last login, cleared failures and lock, upgraded hash) to the caller's
    commit.
    """
    user = User.lookup(username)
    if user is None:
        guard.spend_verify_time(password)
        raise AuthenticationError("The username or password is incorrect")
    refuse_if_locked(user)
    valid, upgraded_hash = guard.pwd_ctx.verify_and_update(password, user.password)
    if not valid:
        record_failed_login(user.user_id)
        raise AuthenticationError("The username or password is incorrect")
    InvalidUserError.require_condition(user.is_active, "The account is disabled")
    user.last_login_at = utcnow()
    user.failed_login_count = 0
    user.locked_until = None
    if upgraded_hash:
        user.password = upgraded_hash
    return user


def refuse_if_locked(user: User) -> None:
    """429 while the account is locked, whatever the password. A lapsed lock is no lock: the
    next failure counts from zero (``record_failed_login``), a success clears it."""
    if user.locked_until is None:
        return
    now = utcnow()
    if user.locked_until <= now:
        return
    retry_after = math.ceil((user.locked_until - now).total_seconds())
    raise ApiError(
        429,
        "rate_limited",
        "Too many failed logins: the account is locked for a while.",
        headers={"Retry-After": str(retry_after)},
    )


def record_failed_login(user_id: int) -> None:
    """Count the failure in one statement on the row as it is when the statement runs (parallel
    attempts all count, and a lock that has lapsed by then starts the count afresh), and lock
    the account at the limit. The lock goes through the ORM, so the audit trail records it."""
    config = current_app.config
    users = User.__table__
    lapsed = users.c.locked_until <= utcnow()
    failures = db.session.execute(
        update(users)
        .where(users.c.user_id == user_id)
        .values(
            failed_login_count=case((lapsed, 0), else_=users.c.failed_login_count) + 1,
            locked_until=case((lapsed, null()), else_=users.c.locked_until),
        )
        .returning(users.c.failed_login_count)
    ).scalar()
    if failures is not None and failures >= config["LOGIN_MAX_FAILURES"]:
        user = db.session.get(User, user_id, populate_existing=True)
        user.locked_until = utcnow() + timedelta(seconds=config["LOGIN_LOCKOUT"])
    db.session.commit()
