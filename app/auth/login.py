"""Signing in: checking a password, counting failures, upgrading the hash.

Failures are counted per login name and client address (``LoginFailure``), never per account
alone, so that:

- after ``LOGIN_MAX_FAILURES`` consecutive failures for one name from one address, that address
  gets 429 for that name for ``LOGIN_LOCKOUT`` seconds, even with the right password, and a
  success resets its count; every other address, the owner's included, is unaffected;
- failures from many addresses against one name slow that name's checks down (from
  ``LOGIN_SLOWDOWN_AFTER`` failures in the last ``LOGIN_LOCKOUT`` seconds, each further one adds
  ``SLOWDOWN_STEP`` seconds, at most ``SLOWDOWN_MAX``) but never lock it;
- a name nobody has is counted, locked and slowed exactly like a real one, and costs the same
  argon2 verification: the answers and their timing do not tell whether an account exists.

Wrong current passwords (``PUT /users/me/password``) count like failed logins.
"""

import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NoReturn

from flask import current_app, request
from flask_praetorian.exceptions import AuthenticationError, InvalidUserError
from sqlalchemy import case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert

from app.auth.notices import send_security_notice
from app.errors import ApiError
from app.extensions import db, guard
from app.identity import canonical
from app.models import LoginFailure, User
from app.models.columns import utcnow

SLOWDOWN_STEP = 0.05
SLOWDOWN_MAX = 1.0
LOGIN_NAME_LENGTH = 254


def authenticate(username: str, password: str) -> User:
    """The user these credentials belong to, or ``AuthenticationError`` (429 while this address
    is locked out of this name).

    Not ``guard.authenticate``: that skips hashing for unknown usernames (a timing oracle) and
    verifies legacy hashes twice. Here every attempt costs one verification, and a hash made
    with a deprecated scheme (pbkdf2_sha512) is replaced by an argon2id hash.

    A failed attempt is committed here (the error ends the request); a successful one leaves
    its bookkeeping (last login, cleared failures, upgraded hash) to the caller's commit.
    """
    login_name = canonical(username)[:LOGIN_NAME_LENGTH]
    on_record = hold_back(login_name)
    user = User.lookup(username)
    if user is None:
        guard.spend_verify_time(password)
        count_failure(login_name, None)
    valid, upgraded_hash = guard.pwd_ctx.verify_and_update(password, user.password)
    if not valid:
        count_failure(login_name, user)
    InvalidUserError.require_condition(user.may_sign_in, "The account is disabled")
    if not user.mfa_enabled:
        # With MFA on, the password is half a sign-in: the count starts again only when the
        # second factor passes too (else each password login would buy more code guesses).
        clear_failures(login_name, user, on_record)
    user.last_login_at = utcnow()
    if upgraded_hash:
        user.password = upgraded_hash
    return user


def check_credential(
    user: User, is_valid: Callable[[], bool], field_name: str, label: str = "password"
) -> None:
    """A credential check by someone who already named the account (a signed-in user changing
    the password, a second factor): counted like a login, under the account's own name, and
    refused the same way while this address is locked out of it."""
    login_name = canonical(user.username)
    on_record = hold_back(login_name)
    if not is_valid():
        count_failure(
            login_name,
            user,
            ApiError(
                401,
                "invalid_credentials",
                f"The {label} is incorrect.",
                {field_name: [f"The {label} is incorrect."]},
            ),
        )
    clear_failures(login_name, user, on_record)


def check_current_password(user: User, password: str, field_name: str) -> None:
    check_credential(user, lambda: guard.pwd_ctx.verify(password, user.password), field_name)


def client_address() -> str:
    return (request.remote_addr or "")[:64]


def hold_back(login_name: str) -> bool:
    """429 while this address is locked out of ``login_name``; a pause while the name is under
    attack from many addresses. One statement reads both, and whether this address has
    failures on record for the name."""
    config = current_app.config
    now = utcnow()
    failures = LoginFailure.__table__.c
    recent = failures.last_failed_at > now - timedelta(seconds=config["LOGIN_LOCKOUT"])
    this_address = failures.address == client_address()
    lock, on_record, total = db.session.execute(
        select(
            func.max(failures.locked_until).filter(this_address),
            func.count().filter(this_address),
            func.coalesce(func.sum(failures.failures).filter(recent), 0),
        ).where(failures.login_name == login_name)
    ).one()
    if lock is not None and lock > now:
        raise locked_out(lock, now)
    beyond = total - config["LOGIN_SLOWDOWN_AFTER"]
    if beyond >= 0:
        time.sleep(min(SLOWDOWN_MAX, SLOWDOWN_STEP * (beyond + 1)))
    return on_record > 0


def locked_out(until: datetime, now: datetime) -> ApiError:
    return ApiError(
        429,
        "rate_limited",
        "Too many failed attempts from this address: try again later.",
        headers={"Retry-After": str(math.ceil((until - now).total_seconds()))},
    )


def count_failure(login_name: str, user: User | None, error: Exception | None = None) -> NoReturn:
    """Count a failure for this name from this address, lock the address out at the limit,
    commit, and raise ``error`` (by default the login's 401).

    One statement, the same whether or not the name has an account (so the two cost the same):
    it counts on the address's row as it is when the statement runs (parallel attempts all
    count; a lapsed lock or a count gone stale starts afresh) and adds one to the account's
    ``failed_login_count`` where there is an account."""
    config = current_app.config
    now = utcnow()
    lockout = timedelta(seconds=config["LOGIN_LOCKOUT"])
    table = LoginFailure.__table__
    stale = or_(table.c.locked_until <= now, table.c.last_failed_at <= now - lockout)
    counted = case((stale, 1), else_=table.c.failures + 1)
    first_lock = now + lockout if config["LOGIN_MAX_FAILURES"] <= 1 else None
    failure = (
        insert(table)
        .values(
            login_name=login_name,
            address=client_address(),
            failures=1,
            last_failed_at=now,
            locked_until=first_lock,
        )
        .on_conflict_do_update(
            index_elements=[table.c.login_name, table.c.address],
            set_={
                "failures": counted,
                "last_failed_at": now,
                "locked_until": case(
                    (counted >= config["LOGIN_MAX_FAILURES"], now + lockout), else_=None
                ),
            },
        )
        .returning(table.c.locked_until)
        .cte("failure")
    )
    users = User.__table__
    account = (
        update(users)
        .where(User.lowered_username == login_name)
        # (updated_at by hand: Python-side defaults are not applied inside a CTE)
        .values(failed_login_count=users.c.failed_login_count + 1, updated_at=now)
        .returning(users.c.user_id)
        .cte("account")
    )
    locked_until = db.session.execute(select(failure.c.locked_until).add_cte(account)).scalar_one()
    if user is not None and locked_until is not None:
        # Through the ORM, so that the audit trail records the lockout.
        user.locked_until = locked_until
        send_security_notice(
            user,
            "Sign-in attempts on your account were blocked",
            f"After {config['LOGIN_MAX_FAILURES']} wrong passwords or codes in a row from the "
            f"address {client_address()}, that address may not sign in to your account for "
            f"{config['LOGIN_LOCKOUT'] // 60} minutes. Your password still works from anywhere "
            "else. If these attempts were not yours, choose a stronger password.",
        )
    db.session.commit()
    raise error or AuthenticationError("The username or password is incorrect")


def clear_failures(login_name: str, user: User, on_record: bool) -> None:
    """A success: this address's count for the name starts again; the account's counters are
    cleared (left to the caller's commit)."""
    if on_record:
        db.session.execute(
            LoginFailure.__table__.delete().where(
                LoginFailure.login_name == login_name, LoginFailure.address == client_address()
            )
        )
    user.failed_login_count = 0
    user.locked_until = None


def prune_login_failures() -> int:
    """Delete failure records that no longer count or lock anything; return how many."""
    now = utcnow()
    stale = LoginFailure.last_failed_at <= now - timedelta(
        seconds=current_app.config["LOGIN_LOCKOUT"]
    )
    unlocked = or_(LoginFailure.locked_until.is_(None), LoginFailure.locked_until <= now)
    result = db.session.execute(LoginFailure.__table__.delete().where(stale, unlocked))
    db.session.commit()
    return result.rowcount
