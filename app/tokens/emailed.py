"""E-mailed tokens: confirming a registration, resetting a password, confirming a new address.

They are flask-praetorian's own JWTs (HS256 with ``SECRET_KEY``: they never leave Gatehouse but
in an e-mail to the account's holder, so no other service needs to verify them): a registration
token or a reset token, each refused by praetorian for any other use, and by the guard as a
bearer token (its key is not one of the published ones). Each carries the user's token version
(``tv``), which moves on when the password or the address changes (``void_emailed_tokens``), so
a token works once and none sent to an old address survives its change. A new address's
confirmation is a registration token that also names the address (``new_email``);
``/register/confirm`` refuses it, and ``/users/me/email/confirm`` accepts nothing else.
"""

from pathlib import Path

from flask import current_app, g
from flask_praetorian.constants import AccessType

from app.config import EMAIL_TEMPLATES
from app.errors import ApiError
from app.extensions import db, guard
from app.models import User
from app.notices import may_tell
from app.tokens import claims

REGISTRATION = AccessType.register
RESET = AccessType.reset
EMAIL_CHANGE_TEMPLATE = EMAIL_TEMPLATES / "confirm_email_change.html"


def mint(user: User, kind: AccessType, **extra) -> str:
    lifespan = guard.reset_lifespan if kind == RESET else guard.confirmation_lifespan
    return guard.encode_jwt_token(
        user,
        override_access_lifespan=lifespan,
        bypass_user_check=kind == REGISTRATION,
        is_registration_token=kind == REGISTRATION,
        is_reset_token=kind == RESET,
        **{claims.TOKEN_VERSION: user.token_version, **extra},
    )


def send_registration_confirmation(user: User) -> None:
    """E-mail a new account's holder the link that confirms its address."""
    _send(user.email, mint(user, REGISTRATION), "registration")


def send_password_reset(user: User) -> None:
    """E-mail the account's holder a password reset token."""
    _send(user.email, mint(user, RESET), "reset")


def send_email_change_confirmation(user: User, new_email: str) -> None:
    """E-mail ``new_email`` the link that makes it the account's address."""
    _send(new_email, mint(user, REGISTRATION, **{claims.NEW_EMAIL: new_email}), "email change")


def _send(address: str, token: str, letter: str) -> None:
    """One of praetorian's token e-mails: its template, link, subject and sender by letter.
    A stranger can have any of them sent to an address, so they count as unsolicited e-mail
    (``NOTICE_LIMIT`` per address)."""
    if not may_tell(address):
        return
    template, uri, subject, sender = {
        "registration": (
            guard.confirmation_template,
            guard.confirmation_uri,
            guard.confirmation_subject,
            guard.confirmation_sender,
        ),
        "reset": (guard.reset_template, guard.reset_uri, guard.reset_subject, guard.reset_sender),
        "email change": (
            EMAIL_CHANGE_TEMPLATE,
            current_app.config["PUBLIC_BASE_URL"] + "/users/me/email/confirm",
            "Confirm your new e-mail address",
            guard.confirmation_sender,
        ),
    }[letter]
    guard.send_token_email(
        address,
        template=Path(template).read_text(),
        action_sender=sender,
        action_uri=uri,
        subject=subject,
        custom_token=token,
    )


def read(token: str, kind: AccessType, email_change: bool = False) -> tuple[User, dict]:
    """The user of an e-mailed token of ``kind`` (for a new address with ``email_change``) and
    its claims: 401 for a token of another kind, expired, or void (its user's token version
    moved on, or the user is gone); a reset for an account that may not sign in is 403."""
    data = guard.extract_jwt_token(token, access_type=kind)
    if kind == REGISTRATION and (claims.NEW_EMAIL in data) != email_change:
        raise ApiError(401, "invalid_token", "This token is for another purpose.")
    user = db.session.get(User, data[claims.USER])
    if user is None or data.get(claims.TOKEN_VERSION) != user.token_version:
        raise ApiError(401, "token_revoked", "The token was used already, or replaced.")
    if kind == RESET and not user.may_sign_in:
        raise ApiError(403, "account_disabled")
    # The request acts as the token's user (the audit trail's actor, the access log's user).
    g.authenticated_user_id = user.user_id
    return user, data


def void_emailed_tokens(user: User) -> None:
    """Refuse every reset and confirmation token sent to ``user`` so far."""
    # (equivalent mutant: - 1 or + 2; the version never comes back to a value it had, so every
    # token minted before refuses all the same: only equality with a token's ``tv`` counts.)
    user.token_version = User.token_version + 1
