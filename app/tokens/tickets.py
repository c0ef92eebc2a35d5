"""Tickets: single-use secrets for one step of a ceremony, kept in PostgreSQL (so every worker
and instance sees them, and a redeemed ticket is gone for all of them).

A ticket is an opaque token (``app.tokens.opaque``) whose digest names a row with its kind, the
user it is for, what the step needs and its expiry. ``read`` looks at a ticket without using it
(a wrong code at the second step of a sign-in does not cost the ticket); ``redeem`` uses it up
in one statement, so two requests with the same ticket never both succeed.
"""

from datetime import timedelta

from sqlalchemy import delete, select

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
    (JSON values) for the step that redeems it."""
    secret = new_secret()
    db.session.add(
        Ticket(
            digest=digest(secret),
            kind=kind,
            user_id=user.user_id if user is not None else None,
            data=data,
            expires_at=utcnow() + timedelta(seconds=lifespan),
        )
    )
    return secret


def read(kind: str, secret: str) -> Ticket | None:
    """The ticket of ``kind`` that ``secret`` is (expired or not: ``Ticket.expired`` says),
    without using it up."""
    return db.session.scalar(
        select(Ticket).where(Ticket.digest == digest(secret), Ticket.kind == kind)
    )


def redeem(kind: str, secret: str) -> Ticket | None:
    """Use up the live ticket of ``kind`` that ``secret`` is, and return it; None when there is
    none (never issued, expired, or redeemed already, by this request or another)."""
    row = db.session.execute(
        delete(Ticket)
        .where(Ticket.digest == digest(secret), Ticket.kind == kind, Ticket.expires_at > utcnow())
        .returning(Ticket.user_id, Ticket.data)
    ).first()
    return None if row is None else Ticket(kind=kind, user_id=row.user_id, data=row.data)


def prune() -> int:
    """Delete expired tickets; return how many."""
    result = db.session.execute(delete(Ticket).where(Ticket.expires_at <= utcnow()))
    db.session.commit()
    return result.rowcount
