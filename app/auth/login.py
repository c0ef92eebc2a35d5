"""Signing in: checking a password, upgrading its hash, and issuing the token."""

import math
import time
from datetime import timedelta

from flask import current_app
from flask_praetorian.exceptions import AuthenticationError, InvalidUserError
from sqlalchemy import bindparam, case, null, update

from app.database import execute_alone
from app.errors import ApiError
from app.extensions import db, guard
from app.models import User
from app.models.columns import utcnow
from app.models.user import Account

# A Core UPDATE, built once: it sets the columns its parameters name (and ``updated_at``). The
# ORM's bulk update would also build the statement and sync the session on every login. Its
# commit does not wait for the disk (see ``commit_without_waiting``): a crash may lose the
# last logins' times, and an upgraded hash then stays the old one until the next login.
LOGIN_BOOKKEEPING = (
    update(User.__table__)
    .where(User.__table__.c.user_id == bindparam("login_user_id"))
    .execution_options(asynchronous_commit=True)
)


def authenticate(username: str, password: str) -> Account:
    """The account these credentials belong to, or ``AuthenticationError``.

    Not ``guard.authenticate``: that skips hashing for unknown usernames (a timing oracle) and
    verifies legacy hashes twice. Here every attempt costs one verification, and a hash made
    with a deprecated scheme (pbkdf2_sha512) is replaced by an argon2id hash.

    A failed attempt is committed here (the error ends the request). A successful one writes
    its bookkeeping (last login, cleared failures and lock, upgraded hash) in one statement.
    Under load every round trip waits for a core busy hashing, so a login makes two, each a
    transaction of its own: the look-up (a prepared read, no ORM object) and that statement.
    """
    account = Account.lookup(username)
    if account is None:
        guard.spend_verify_time(password)
        raise AuthenticationError("The username or password is incorrect")
    refuse_if_locked(account)
    valid, upgraded_hash = guard.pwd_ctx.verify_and_update(password, account.password)
    if not valid:
        record_failed_login(account.user_id)
        raise AuthenticationError("The username or password is incorrect")
    InvalidUserError.require_condition(account.is_active, "The account is disabled")
    bookkeeping = {"last_login_at": utcnow(), "failed_login_count": 0, "locked_until": None}
    if upgraded_hash:
        bookkeeping["password"] = upgraded_hash
    execute_alone(LOGIN_BOOKKEEPING, {"login_user_id": account.user_id, **bookkeeping})
    return account


def refuse_if_locked(account: Account) -> None:
    """429 while the account is locked, whatever the password. A lapsed lock is no lock: the
    next failure counts from zero (``record_failed_login``), a success clears it."""
    if account.locked_until is None:
        return
    now = utcnow()
    if account.locked_until <= now:
        return
    retry_after = math.ceil((account.locked_until - now).total_seconds())
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
        user = db.session.get(User, user_id)
        user.locked_until = utcnow() + timedelta(seconds=config["LOGIN_LOCKOUT"])
    db.session.commit()


def token_response(token: str) -> dict:
    """The body returned by every endpoint that issues an access token."""
    expires_at = guard.issued_claims(token)["exp"]
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": max(0, expires_at - int(time.time())),
    }
