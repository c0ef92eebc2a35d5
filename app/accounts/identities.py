"""Identities at OpenID Connect providers: an account's links to them, made by a sign-in (a new
account for a new identity) or asked for from a session and confirmed by it, listed and removed.

An identity is a provider's issuer and ``sub``. An e-mail address the provider gives never
links an identity to an existing account by itself, verified or not: the account's holder signs
in and links it. Linking to an existing account and unlinking are audited and told to its
holder. How the provider proves an identity is ``app.signin.oidc``.
"""

import re
import secrets

from flask import current_app
from sqlalchemy import func, select

from app.audit import record_event
from app.errors import ApiError
from app.extensions import db, guard
from app.models import Identity, Passkey, User
from app.notices import send_security_notice
from app.tokens import tickets
from app.tokens.opaque import new_secret

USERNAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_.-]+")


def find(issuer: str, subject: str) -> Identity | None:
    return db.session.scalar(
        select(Identity).where(Identity.issuer == issuer, Identity.subject == subject)
    )


def link_proved(provider: str, issuer: str, claims: dict, user_id: int) -> str:
    """A link proved at the provider, as a single-use code that only the session of the
    account that asked for it can confirm: the browser that finished it may be anyone's (a
    stranger who sent you his link's address would otherwise get your identity linked to his
    account)."""
    identity = find(issuer, claims["sub"])
    if identity is not None and identity.user_id != user_id:
        raise ApiError(409, "conflict", "This identity is linked to another account.")
    return tickets.link_code(
        db.session.get(User, user_id), provider, claims["sub"], claims["email"]
    )


def confirm_link(user: User, provider: str, issuer: str, link_code: str) -> Identity:
    """``POST /users/me/identities/<provider>/confirm``: the link ``user``'s session asked for
    and the provider proved; 401 for an unknown, used or expired code, 403 for another
    account's, 409 for an identity another account has."""
    ticket = tickets.redeem(tickets.OIDC_LINK, link_code, user)
    if ticket is None and tickets.read(tickets.OIDC_LINK, link_code) is not None:
        # Another account's link: refused, and left for that account to confirm.
        raise ApiError(
            403, "forbidden", "Another account started this link: start it again from yours."
        )
    if ticket is None or ticket.data.get("provider") != provider:
        raise ApiError(401, "invalid_token", "The link code is unknown, expired or used.")
    claims = {"sub": ticket.data["sub"], "email": ticket.data.get("email")}
    identity = find(issuer, claims["sub"])
    if identity is not None:
        if identity.user_id != user.user_id:
            raise ApiError(409, "conflict", "This identity is linked to another account.")
        return identity
    identity = _link(user, provider, issuer, claims)
    send_security_notice(
        user,
        f"{provider} can now sign in to your account",
        f"An account at {provider}"
        + (f" ({identity.email})" if identity.email else "")
        + " was linked to yours and can sign in to it. If this was not you, unlink it from "
        "your account page and reset your password (the reset removes recently added ways in).",
    )
    return identity


def account_for(provider: str, issuer: str, claims: dict) -> User:
    """The account an identity signs in to, made for it when it is new and its e-mail address
    is nobody's."""
    identity = find(issuer, claims["sub"])
    if identity is not None:
        return db.session.get(User, identity.user_id)
    email = claims["email"]
    verified = claims.get("email_verified") is True
    if email is None:
        raise ApiError(403, "forbidden", "The provider gave no usable e-mail address.")
    if User.taken_fields(None, email):
        # Equal addresses never link by themselves, even verified ones: its holder signs in to
        # the account and links the provider from there.
        raise ApiError(
            409,
            "conflict",
            "An account already uses this e-mail address. Sign in to it (password or passkey), "
            f"then link {provider} from your session: POST /users/me/identities/"
            f"{provider}.",
        )
    config = current_app.config
    if not config["REGISTRATION_ENABLED"]:
        raise ApiError(403, "forbidden", "New accounts are not open: ask an administrator.")
    if config["EMAIL_CONFIRMATION"] and not verified:
        raise ApiError(
            403, "forbidden", "The provider has not verified this e-mail address: register."
        )
    user = User(
        username=_free_username(claims, email),
        email=email,
        password=guard.hash_password(new_secret()),
        password_set=False,
        roles="user",
    )
    db.session.add(user)
    db.session.flush()
    _link(user, provider, issuer, claims)
    return user


def _link(user: User, provider: str, issuer: str, claims: dict) -> Identity:
    identity = Identity(
        user_id=user.user_id,
        provider=provider,
        issuer=issuer,
        subject=claims["sub"],
        email=claims["email"],
    )
    db.session.add(identity)
    db.session.flush()
    record_event("identity.linked", user.user_id, {"identity": [None, provider]})
    return identity


def _free_username(claims: dict, email: str) -> str:
    """A username from the provider's (or the address's local part), made valid and unused."""
    wanted = claims.get("preferred_username")
    base = wanted if isinstance(wanted, str) and wanted else email.split("@")[0]
    base = USERNAME_CHARACTERS.sub("", base)[:56] or "user"
    base = base if len(base) >= 3 else f"{base}-user"
    candidate = base
    for number in range(2, 1000):
        if not User.taken_fields(candidate, None):
            return candidate
        candidate = f"{base}{number}"
    return f"{base}-{secrets.token_hex(4)}"


def of_user(user: User):
    return select(Identity).where(Identity.user_id == user.user_id)


def remove(user: User, identity_id: int) -> None:
    """Unlink one of ``user``'s identities, unless it is the last way in (no password set, no
    passkey, no other identity): 409."""
    identity = db.session.get(Identity, identity_id)
    if identity is None or identity.user_id != user.user_id:
        raise ApiError(404, "not_found", "You have no identity with that id.")
    others = db.session.scalar(
        select(func.count()).where(Identity.user_id == user.user_id, Identity.id != identity.id)
    )
    passkeys = db.session.scalar(select(func.count()).where(Passkey.user_id == user.user_id))
    if not (user.password_set or passkeys or others):
        raise ApiError(
            409,
            "conflict",
            "This is your only way in: set a password (POST /password/forgot) or add a passkey "
            "first.",
        )
    db.session.delete(identity)
    record_event("identity.removed", user.user_id, {"identity": [identity.provider, None]})
    send_security_notice(
        user,
        f"{identity.provider} no longer signs in to your account",
        f"The account at {identity.provider} linked to yours was unlinked. If this was not you, "
        "reset your password.",
    )
