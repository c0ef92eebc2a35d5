"""Failed attempts: every wrong password or code, counted towards the lockout.

Failures are counted per login name and client address (``LoginFailure``), never per account
alone, so that:

- after ``LOGIN_MAX_FAILURES`` consecutive failures for one name from one address, that address
  gets 429 for that name for ``LOGIN_LOCKOUT`` seconds, even with the right password, and a
  success resets its count; every other address, the owner's included, is unaffected;
- failures from many addresses against one name slow that name down for the addresses that
  fail (from ``LOGIN_SLOWDOWN_AFTER`` failures in the last ``LOGIN_LOCKOUT`` seconds, an address
  that failed on the name must wait ``SLOWDOWN_STEP`` seconds more per further failure, at most
  ``SLOWDOWN_MAX``, after its last failure: 429 with ``Retry-After`` until then) but never lock
  it: an address with no failure on the name, the owner's new device say, is never held back.
  Nothing waits in the server: a paced attempt is answered at once;
- a name nobody has is counted, locked and slowed exactly like a real one, and costs the same
  argon2 verification: the answers and their timing do not tell whether an account exists.

Wrong current passwords (``PUT /users/me/password``, ``/reauthenticate``) and wrong codes count
like failed logins (``app.accounts.factors`` checks every factor through here).
"""

import math
from datetime import datetime, timedelta
from typing import NoReturn

from flask import current_app
from sqlalchemy import case, func, literal, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm.attributes import set_committed_value

from app.addresses import request_client_key
from app.errors import ApiError
from app.extensions import db
from app.identity import canonical
from app.models import LoginFailure, User
from app.models.columns import utcnow
from app.notices import send_security_notice

SLOWDOWN_STEP = 1
SLOWDOWN_MAX = 30
LOGIN_NAME_LENGTH = 254


def login_name_of(user: User) -> str:
    """The name failures against ``user`` are counted under (what a login for it types, in
    canonical form)."""
    return canonical(user.username)[:LOGIN_NAME_LENGTH]


def client_address() -> str:
    """The key failures are counted under for this client (``app.addresses``: an IPv6
    client's /64)."""
    return request_client_key()


def hold_back(login_name: str) -> None:
    """429 while this address is locked out of ``login_name``, or, while the name is under
    attack from many addresses, until this address's pace allows its next attempt. One
    statement reads both."""
    config = current_app.config
    now = utcnow()
    failures = LoginFailure.__table__.c
    # (equivalent mutant: >=; differs only for a failure exactly LOGIN_LOCKOUT old, to the
    # microsecond.)
    recent = failures.last_failed_at > now - timedelta(seconds=config["LOGIN_LOCKOUT"])
    this_address = failures.address == client_address()
    lock, last_failed, total = db.session.execute(
        select(
            func.max(failures.locked_until).filter(this_address),
            func.max(failures.last_failed_at).filter(this_address),
            func.coalesce(func.sum(failures.failures).filter(recent), 0),
        ).where(failures.login_name == login_name)
    ).one()
    if lock is not None and lock > now:
        raise locked_out(lock, now)
    beyond = total - config["LOGIN_SLOWDOWN_AFTER"]
    if beyond >= 0 and last_failed is not None:
        next_attempt = last_failed + timedelta(
            seconds=min(SLOWDOWN_MAX, SLOWDOWN_STEP * (beyond + 1))
        )
        # (equivalent mutant: >=; differs only for an attempt at the very microsecond its wait
        # ends.)
        if next_attempt > now:
            raise locked_out(next_attempt, now)


def locked_out(until: datetime, now: datetime) -> ApiError:
    return ApiError(
        429,
        "rate_limited",
        "Too many failed attempts from this address: try again later.",
        # (equivalent mutant: the header's name in another case; HTTP field names are
        # case-insensitive (RFC 9110 5.1), and so are werkzeug's Headers.)
        headers={"Retry-After": str(math.ceil((until - now).total_seconds()))},
    )


def count_failure(login_name: str, user: User | None, error: ApiError) -> NoReturn:
    """Count a failure for this name from this address, lock the address out at the limit,
    commit, and raise ``error``.

    One statement, the same whether or not the name has an account (so the two cost the same):
    it counts on the address's row as it is when the statement runs (parallel attempts all
    count; a lapsed lock or a count gone stale starts afresh) and adds one to the account's
    ``failed_login_count`` where there is an account."""
    config = current_app.config
    now = utcnow()
    lockout = timedelta(seconds=config["LOGIN_LOCKOUT"])
    table = LoginFailure.__table__
    # (equivalent mutants: < for either <=; they differ only for a lock that lapses, or a count
    # that goes stale, at this very microsecond, and a lock set here lapses as its failure goes
    # stale: last_failed_at + LOGIN_LOCKOUT.)
    stale = or_(table.c.locked_until <= now, table.c.last_failed_at <= now - lockout)
    counted = case((stale, 1), else_=table.c.failures + 1)
    first_lock = now + lockout if config["LOGIN_MAX_FAILURES"] <= 1 else None
    users = User.__table__
    account = (
        update(users)
        .where(User.lowered_username == login_name)
        # (updated_at by hand: Python-side defaults are not applied inside a CTE)
        .values(failed_login_count=users.c.failed_login_count + 1, updated_at=now)
        # (equivalent mutants: RETURNING NULL, or the CTE named otherwise or not at all; each
        # gives the join its one row, nothing reads its columns, and SQLAlchemy names the CTE
        # and its reference alike.)
        .returning(users.c.user_id)
        .cte("account")
    )
    # The row to count on is read through the account's update (one row, with or without an
    # account: an outer join), so the statement locks the account's row before the address's.
    # Two failures at once then lock in one order (in either order they deadlocked).
    counted_row = select(
        # (equivalent mutants: other labels, or none; INSERT ... SELECT takes the columns by
        # position. And without type_: psycopg2 (app.config.env) writes the value into the SQL,
        # a NULL or a timestamptz, and PostgreSQL gives the NULL the column's type.)
        literal(login_name).label("login_name"),
        literal(client_address()).label("address"),
        literal(1).label("failures"),
        literal(now).label("last_failed_at"),
        literal(first_lock, type_=table.c.locked_until.type).label("locked_until"),
        # (equivalent mutants: any other one-row select below, with no column, a NULL, a 2 or
        # another label: it only gives the outer join its one row, and nothing reads it.)
    ).select_from(select(literal(1).label("one")).subquery().outerjoin(account, true()))
    failure = (
        insert(table)
        .from_select(
            ["login_name", "address", "failures", "last_failed_at", "locked_until"], counted_row
        )
        .on_conflict_do_update(
            index_elements=[table.c.login_name, table.c.address],
            set_={
                "failures": counted,
                "last_failed_at": now,
                # (equivalent mutant: without else_=None; a CASE with no ELSE is NULL.)
                "locked_until": case(
                    (counted >= config["LOGIN_MAX_FAILURES"], now + lockout), else_=None
                ),
            },
        )
        .returning(table.c.locked_until)
        # (equivalent mutants: the CTE named otherwise or not at all; SQLAlchemy names it and
        # its reference below alike.)
        .cte("failure")
    )
    locked_until = db.session.execute(select(failure.c.locked_until)).scalar_one()
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
            unsolicited=True,
        )
    db.session.commit()
    raise error


def clear_failures(user: User, **also) -> None:
    """A success: this address's count for the account's name starts again; the account's
    counters are cleared, with ``also`` (more columns of the account's row, such as a login's
    ``last_login_at``) in the same UPDATE.

    That UPDATE comes first and locks the account's row (FOR NO KEY UPDATE, the lock of an
    UPDATE that changes no key: rows that only refer to the account are not held back), as
    ``count_failure`` locks it before the address's row: a failure being counted at this moment
    either finished first (its count is cleared here) or waits for this success and counts after
    it. (Locked the other way round, the two could each hold the row the other waits for: a
    deadlock.) The lock is held until the caller's commit, so two sign-ins of one account
    start their sessions one after the other (``app.access.sessions``)."""
    users = User.__table__
    changed = bool(also or user.failed_login_count or user.locked_until)
    values = {
        "failed_login_count": 0,
        "locked_until": None,
        # (updated_at moves only when something did: given as itself, it is not set anew)
        "updated_at": utcnow() if changed else users.c.updated_at,
        **also,
    }
    db.session.execute(update(users).where(users.c.user_id == user.user_id).values(**values))
    for name, value in values.items():
        if name != "updated_at" or changed:
            set_committed_value(user, name, value)
    failures = LoginFailure.__table__
    db.session.execute(
        failures.delete().where(
            failures.c.login_name == login_name_of(user), failures.c.address == client_address()
        )
    )


def prune_login_failures() -> int:
    """Delete failure records that no longer count or lock anything; return how many."""
    now = utcnow()
    # (equivalent mutant: < differs only for a failure exactly LOGIN_LOCKOUT old, to the
    # microsecond.)
    stale = LoginFailure.last_failed_at <= now - timedelta(
        seconds=current_app.config["LOGIN_LOCKOUT"]
    )
    # (equivalent mutant: < differs only for a lock that lapses at this very microsecond.)
    unlocked = or_(LoginFailure.locked_until.is_(None), LoginFailure.locked_until <= now)
    result = db.session.execute(LoginFailure.__table__.delete().where(stale, unlocked))
    db.session.commit()
    return result.rowcount
