"""Tickets: single-use secrets for one step of a ceremony, kept in PostgreSQL (so every worker
and instance sees them, and a redeemed ticket is gone for all of them).

A ticket is an opaque token (``app.tokens.opaque``) whose digest names a row with its kind, the
user it is for, what the step needs and its expiry. ``read`` looks at a ticket without using it
(a wrong code at the second step of a sign-in does not cost the ticket: the lockout counts wrong
codes); ``redeem`` uses it up in one statement, so two requests with the same ticket never both
succeed, and commits at once, so a failure after it never restores it.
"""

import math
from datetime import timedelta

from flask import current_app, has_request_context
from sqlalchemy import delete, func, select

from app.addresses import request_client_key
from app.errors import ApiError
from app.extensions import db
from app.models import Ticket, User
from app.models.columns import utcnow
from app.tokens.opaque import digest, new_secret

MFA = "mfa"
ENROLMENT = "mfa-enrolment"
PASSKEY_REGISTRATION = "passkey-registration"
PASSKEY_SIGN_IN = "passkey-sign-in"
OIDC_STATE = "oidc-state"
OIDC_EXCHANGE = "oidc-exchange"
OIDC_LINK = "oidc-link"


def issue(kind: str, lifespan: int, user: User | None = None, **data) -> str:
    """A new ticket of ``kind`` for ``user``, good for ``lifespan`` seconds, carrying ``data``
    (JSON values) for the step that redeems it. A ticket for nobody yet (a ceremony a stranger
    starts: a passkey sign-in, a provider sign-in) counts against its client's cap."""
    secret = new_secret()
    stranger = request_client_key() if user is None and has_request_context() else None
    if stranger is not None:
        refuse_past_cap(stranger)
    db.session.add(
        Ticket(
            digest=digest(secret),
            kind=kind,
            user_id=user.user_id if user is not None else None,
            data=data,
            expires_at=utcnow() + timedelta(seconds=lifespan),
            issued_to=stranger,
        )
    )
    return secret


def refuse_past_cap(client: str) -> None:
    """429 while ``client`` holds ``CEREMONIES_PER_CLIENT`` live tickets it started without
    signing in (with rate limits on): a flood of started ceremonies cannot fill the table, and
    the first to expire makes room (``Retry-After``)."""
    config = current_app.config
    if not config["RATELIMIT_ENABLED"]:
        return
    now = utcnow()
    live, first_to_expire = db.session.execute(
        select(func.count(), func.min(Ticket.expires_at)).where(
            Ticket.issued_to == client, Ticket.expires_at > now
        )
    ).one()
    if live < config["CEREMONIES_PER_CLIENT"]:
        return
    wait = max(1, math.ceil((first_to_expire - now).total_seconds()))
    raise ApiError(
        429,
        "rate_limited",
        "Too many sign-ins started from here and not finished: finish one, or wait.",
        headers={"Retry-After": str(wait)},
    )


def read(kind: str, secret: str) -> Ticket | None:
    """The ticket of ``kind`` that ``secret`` is (expired or not: ``Ticket.expired`` says),
    without using it up."""
    return db.session.scalar(
        select(Ticket).where(Ticket.digest == digest(secret), Ticket.kind == kind)
    )


def redeem(kind: str, secret: str, user: User | None = None) -> Ticket | None:
    """Use up the live ticket of ``kind`` that ``secret`` is (with ``user``: only one issued to
    that user, so nobody else can use up theirs), and return it; None when there is none (never
    issued, expired, another user's, or redeemed already, by this request or another).

    The ticket is burnt for good before the caller checks anything else: the request's
    transaction commits right after the delete, so a step that fails afterwards (a signature
    that does not verify, an account that may not sign in) rolls back its own writes but cannot
    give the ticket back to be tried again. Callers redeem first, before they write anything."""
    statement = delete(Ticket).where(
        Ticket.digest == digest(secret), Ticket.kind == kind, Ticket.expires_at > utcnow()
    )
    if user is not None:
        statement = statement.where(Ticket.user_id == user.user_id)
    row = db.session.execute(statement.returning(Ticket.user_id, Ticket.data)).first()
    db.session.commit()
    return None if row is None else Ticket(kind=kind, user_id=row.user_id, data=row.data)


def prune() -> int:
    """Delete expired tickets; return how many."""
    result = db.session.execute(delete(Ticket).where(Ticket.expires_at <= utcnow()))
    db.session.commit()
    return result.rowcount
