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
# How long each kind lives, in seconds.
SECOND_STEP_LIFESPAN = 300
ENROLMENT_LIFESPAN = 900
CHALLENGE_LIFESPAN = 300
STATE_LIFESPAN = 600
EXCHANGE_LIFESPAN = 60


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
            Ticket.issued_to == client,
            # (equivalent mutant: >=; differs only for a ticket that expires at this very
            # microsecond.)
            Ticket.expires_at > now,
        )
    ).one()
    if live < config["CEREMONIES_PER_CLIENT"]:
        return
    wait = max(1, math.ceil((first_to_expire - now).total_seconds()))
    raise ApiError(
        429,
        "rate_limited",
        "Too many sign-ins started from here and not finished: finish one, or wait.",
        # (equivalent mutant: the header's name in another case; HTTP field names are
        # case-insensitive (RFC 9110 5.1), and so are werkzeug's Headers.)
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
        Ticket.digest == digest(secret),
        Ticket.kind == kind,
        # (equivalent mutant: >=; differs only for a ticket that expires at this very microsecond.)
        Ticket.expires_at > utcnow(),
    )
    if user is not None:
        statement = statement.where(Ticket.user_id == user.user_id)
    row = db.session.execute(statement.returning(Ticket.user_id, Ticket.data)).first()
    db.session.commit()
    # (equivalent mutant: kind=None, or left out; no caller reads the kind of the ticket it
    # redeemed, it asked for that kind.)
    return None if row is None else Ticket(kind=kind, user_id=row.user_id, data=row.data)


def second_step(user: User) -> str:
    """The ``mfa_token`` of a sign-in whose password passed: good for the second step only,
    until the account's password changes."""
    return issue(MFA, SECOND_STEP_LIFESPAN, user, token_version=user.token_version)


def enrolment(user: User) -> str:
    """The ``enrollment_token`` of an account that must turn MFA on before it signs in."""
    return issue(ENROLMENT, ENROLMENT_LIFESPAN, user, token_version=user.token_version)


def challenge(kind: str, user: User | None = None) -> str:
    """A passkey ceremony's challenge: a registration's for ``user``, a sign-in's for nobody."""
    return issue(kind, CHALLENGE_LIFESPAN, user)


def provider_state(
    provider: str,
    redirect_uri: str,
    verifier: str,
    nonce: str,
    link_to: User | None,
    binding: str | None,
) -> str:
    """A provider sign-in's (or, with ``link_to``, link's) state: its PKCE verifier, nonce,
    where to send the browser back, and the digest of the cookie that binds a sign-in to its
    browser."""
    return issue(
        OIDC_STATE,
        STATE_LIFESPAN,
        link_to,
        provider=provider,
        verifier=verifier,
        nonce=nonce,
        redirect_uri=redirect_uri,
        binding=binding,
    )


def exchange_code(user: User, binding: str) -> str:
    """The single-use code a provider sign-in's browser exchanges for the login's answer."""
    return issue(OIDC_EXCHANGE, EXCHANGE_LIFESPAN, user, binding=binding)


def link_code(user: User, provider: str, subject: str, email: str | None) -> str:
    """A link proved at a provider, for the session of ``user`` to confirm."""
    return issue(OIDC_LINK, EXCHANGE_LIFESPAN, user, provider=provider, sub=subject, email=email)


def holder(kind: str, secret: str) -> User:
    """The user a live ticket of ``kind`` was issued to, who may still sign in (a password
    change since voids it); the ticket is not used up."""
    found = read(kind, secret)
    if found is None:
        raise ApiError(401, "invalid_token", "The token is not valid here (or used already).")
    if found.expired:
        raise ApiError(401, "token_expired", "The token has expired: sign in again.")
    user = db.session.get(User, found.user_id)
    if user is None or found.data.get("token_version") != user.token_version:
        raise ApiError(401, "token_revoked", "The token was revoked: sign in again.")
    if not user.may_sign_in:
        raise ApiError(403, "account_disabled")
    return user


def use_up(kind: str, secret: str) -> None:
    """Redeem the ticket of a step that succeeded; one redeemed meanwhile by another request
    is refused (the two requests proved the same thing once)."""
    if redeem(kind, secret) is None:
        raise ApiError(401, "invalid_token", "The token was used already.")


def prune() -> int:
    """Delete expired tickets; return how many."""
    # (equivalent mutant: < differs only for a ticket that expires at this very microsecond.)
    result = db.session.execute(delete(Ticket).where(Ticket.expires_at <= utcnow()))
    db.session.commit()
    return result.rowcount
