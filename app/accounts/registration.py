"""Registering, confirming an address, and asking for a password reset: the decisions that must
not tell whether an address has an account.

- Without ``EMAIL_CONFIRMATION`` a registration creates a confirmed account at once; a taken
  username or address is a 409 (the documented trade-off).
- With it, an address belongs to the account that confirmed it. A registration with a taken
  username is a 409 (usernames are public); otherwise the request hashes the password and
  leaves the rest to the worker (``decided_in_the_worker``), answering 202 whatever comes of
  it: when a confirmed account has the address, its holder is told; otherwise a new,
  unconfirmed account is made and the address gets its link. Unconfirmed accounts hold no
  address: one that never confirms (a squatter's) neither blocks the address's owner, whose
  own registration gets its own account and link, nor outlives ``CONFIRMATION_LIFESPAN``
  (``prune-tokens``); the first account to confirm an address keeps it, and the other
  unconfirmed accounts of that address go.
- ``/password/forgot``: the look-up happens in the worker too.
"""

from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.errors import ApiError
from app.extensions import db, guard
from app.identity import canonical
from app.mail import decided_in_the_worker
from app.models import User
from app.models.columns import utcnow
from app.notices import send_security_notice
from app.tokens import emailed


def register(username: str, email: str, password: str) -> User | None:
    """A new account (None with confirmation on: the worker decides, ``open_account``)."""
    confirm = current_app.config["EMAIL_CONFIRMATION"]
    taken = User.taken_fields(username, email)
    if "username" in taken or (taken and not confirm):
        raise ApiError(409, "conflict", "The username or e-mail is already in use.", taken)
    password_hash = guard.hash_password(password)
    if confirm:
        open_account.later(username=username, email=email, password_hash=password_hash)
        return None
    user = User(username=username, email=email, password=password_hash, roles="user")
    db.session.add(user)
    return user


@decided_in_the_worker("open_account")
def open_account(username: str, email: str, password_hash: str) -> None:
    """With confirmation on: tell the address's holder, or make an unconfirmed account and send
    the address its link."""
    holder = User.with_email(email)
    if holder is not None:
        send_security_notice(
            holder,
            "Someone tried to register with your e-mail address",
            "Someone tried to register a new Gatehouse account with this address, which is "
            "already yours. Nothing changed. If you forgot your password, ask for a reset.",
            unsolicited=True,
        )
        return
    forget_unconfirmed(username=username)
    user = User(
        username=username, email=email, password=password_hash, roles="user", email_confirmed=False
    )
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        # The username was taken since the request checked it: nothing to make.
        db.session.rollback()
        current_app.logger.warning("registration dropped: its username was taken meanwhile")
        return
    emailed.send_registration_confirmation(user)


def confirm(token: str) -> User:
    """``/register/confirm``: the account has its address, unless another confirmed it first
    (409); the other unconfirmed accounts of the address go. A deactivated account stays so."""
    user, _ = emailed.read(token, emailed.REGISTRATION)
    if not user.email_confirmed:
        if User.taken_fields(None, user.email, exclude_id=user.user_id):
            raise ApiError(409, "conflict", "Another account confirmed this address first.")
        forget_unconfirmed(email=user.email, keep=user.user_id)
    user.email_confirmed = True
    emailed.void_emailed_tokens(user)
    return user


def forget_unconfirmed(
    email: str | None = None, username: str | None = None, keep: int | None = None
) -> None:
    """Delete unconfirmed accounts (through the ORM: the audit trail records each): those of
    ``email`` (an account just confirmed it), or those whose confirmation lapsed and that hold
    ``username``."""
    statement = select(User).where(User.email_confirmed.is_(False))
    if email is not None:
        statement = statement.where(func.lower(User.email) == canonical(email))
    if username is not None:
        lapsed = utcnow() - timedelta(**current_app.config["PRAETORIAN_CONFIRMATION_LIFESPAN"])
        statement = statement.where(
            User.lowered_username == canonical(username), User.created_datetime < lapsed
        )
    if keep is not None:
        statement = statement.where(User.user_id != keep)
    for user in db.session.scalars(statement):
        db.session.delete(user)
    db.session.flush()


def prune_unconfirmed() -> int:
    """Delete every account whose confirmation lapsed; return how many."""
    lapsed = utcnow() - timedelta(**current_app.config["PRAETORIAN_CONFIRMATION_LIFESPAN"])
    users = db.session.scalars(
        select(User).where(User.email_confirmed.is_(False), User.created_datetime < lapsed)
    ).all()
    for user in users:
        db.session.delete(user)
    db.session.commit()
    return len(users)


@decided_in_the_worker("reset_by_address")
def send_reset(email: str) -> None:
    """A reset token to ``email``, if an account that may sign in has it (and the address has
    not had too many unsolicited e-mails)."""
    user = User.with_email(email)
    if user is not None and user.may_sign_in:
        emailed.send_password_reset(user)
