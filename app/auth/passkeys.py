"""Passkeys (WebAuthn, with py_webauthn): registering one, and checking an assertion of one.

Each ceremony starts with options holding a challenge, and ends with the browser's answer,
signed over that challenge. The challenge is a ticket (``app.tokens.tickets``): kept in
PostgreSQL for ``CHALLENGE_LIFESPAN`` seconds, so every worker sees it, and used up by the
answer that presents it, so it works once. A registration challenge belongs to the user who
asked for it; a sign-in challenge to nobody, since a passkey names its user (discoverable
credentials: no username is typed).

The relying party is ``WEBAUTHN_RP_ID``, and answers come from one of ``WEBAUTHN_ORIGINS``.
User verification is required (a PIN or a fingerprint on the authenticator), so a passkey
alone is a multi-factor sign-in. The user handle given to authenticators is random bytes, not
the account's id. A signature counter that does not move forward is refused, unless both sides
are 0 (synced passkeys never count).
"""

import json
import secrets

from flask import current_app
from sqlalchemy import exists, func, select
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import parse_authentication_credential_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from app.audit import record_event
from app.auth import mfa
from app.auth.notices import send_security_notice
from app.errors import ApiError
from app.extensions import db
from app.models import Passkey, User
from app.models.columns import utcnow
from app.tokens import tickets

CHALLENGE_LIFESPAN = 300
HANDLE_BYTES = 32
# What an answer that cannot be read or verified raises: the library's own errors, and the
# decoding errors of a malformed field (binascii.Error and UnicodeDecodeError are ValueErrors).
UNREADABLE = (WebAuthnException, ValueError, TypeError, KeyError, AttributeError)
REFUSED = (
    "The passkey could not be verified (a used or expired challenge, another site, or another "
    "account's passkey)."
)


def of_user(user: User):
    """A query of ``user``'s passkeys, oldest first (for pagination)."""
    return select(Passkey).where(Passkey.user_id == user.user_id).order_by(Passkey.id)


def passkey_of(user: User, passkey_id: int) -> Passkey:
    """``user``'s passkey ``passkey_id``, or 404 (another user's passkey included)."""
    passkey = db.session.get(Passkey, passkey_id)
    if passkey is None or passkey.user_id != user.user_id:
        raise ApiError(404, "not_found", "You have no passkey with that id.")
    return passkey


def _challenge(kind: str, user: User | None = None) -> bytes:
    return tickets.issue(kind, CHALLENGE_LIFESPAN, user).encode()


def _presented_challenge(credential: dict) -> str:
    """The challenge an answer was signed over, as the ticket it was issued as."""
    client_data = credential["response"]["clientDataJSON"]
    collected = json.loads(base64url_to_bytes(client_data))
    return base64url_to_bytes(collected["challenge"]).decode("ascii")


def _redeem_challenge(kind: str, credential: dict, user: User | None = None) -> bytes:
    """Use up the challenge ``credential`` answers; a challenge that is unknown, expired, used,
    of another ceremony or (with ``user``) of another user is refused."""
    try:
        secret = _presented_challenge(credential)
    except UNREADABLE as error:
        raise _refusal() from error
    ticket = tickets.redeem(kind, secret)
    if ticket is None or (user is not None and ticket.user_id != user.user_id):
        raise _refusal()
    return secret.encode()


def _refusal() -> ApiError:
    return ApiError(401, "invalid_credentials", REFUSED, {"credential": [REFUSED]})


def registration_options(user: User) -> dict:
    """Options for the browser's ``navigator.credentials.create``: a discoverable credential
    with user verification, none of the user's passkeys again."""
    config = current_app.config
    if user.webauthn_handle is None:
        user.webauthn_handle = secrets.token_bytes(HANDLE_BYTES)
    known = db.session.scalars(
        select(Passkey.credential_id).where(Passkey.user_id == user.user_id)
    ).all()
    options = generate_registration_options(
        rp_id=config["WEBAUTHN_RP_ID"],
        rp_name=config["WEBAUTHN_RP_NAME"],
        user_name=user.username,
        user_id=user.webauthn_handle,
        user_display_name=user.username,
        challenge=_challenge(tickets.PASSKEY_REGISTRATION, user),
        timeout=CHALLENGE_LIFESPAN * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=known_id) for known_id in known],
    )
    return json.loads(options_to_json(options))


def register(user: User, credential: dict, name: str | None) -> Passkey:
    """Verify the browser's registration answer and keep the new passkey: audited, and told
    to the account's address."""
    config = current_app.config
    challenge = _redeem_challenge(tickets.PASSKEY_REGISTRATION, credential, user)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=config["WEBAUTHN_RP_ID"],
            expected_origin=config["WEBAUTHN_ORIGINS"],
            require_user_verification=True,
        )
    except UNREADABLE as error:
        raise _refusal() from error
    taken = db.session.scalar(
        select(exists().where(Passkey.credential_id == verified.credential_id))
    )
    if taken:
        raise ApiError(409, "conflict", "That passkey is registered already.")
    count = db.session.scalar(select(func.count()).where(Passkey.user_id == user.user_id))
    transports = credential["response"].get("transports") or []
    passkey = Passkey(
        user_id=user.user_id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[str(transport)[:16] for transport in transports][:8],
        name=name or f"Passkey {count + 1}",
    )
    db.session.add(passkey)
    db.session.flush()
    record_event("passkey.added", user.user_id, {"passkey": [None, passkey.name]})
    send_security_notice(
        user,
        "A passkey was added to your account",
        f"The passkey '{passkey.name}' can now sign in to your account. If this was not you, "
        "remove it from your account page, reset your password and contact an administrator.",
    )
    return passkey


def remove(user: User, passkey: Passkey) -> None:
    """Delete ``passkey``; audited. Not the last second factor of an account whose roles
    require one (409)."""
    others = db.session.scalar(
        select(func.count()).where(Passkey.user_id == user.user_id, Passkey.id != passkey.id)
    )
    if not user.mfa_enabled and others == 0:
        mfa.refuse_if_required(user)
    db.session.delete(passkey)
    record_event("passkey.removed", user.user_id, {"passkey": [passkey.name, None]})


def authentication_options() -> dict:
    """Options for the browser's ``navigator.credentials.get``: no credentials listed (the
    authenticator offers the passkeys it holds for this site), user verification required."""
    options = generate_authentication_options(
        rp_id=current_app.config["WEBAUTHN_RP_ID"],
        challenge=_challenge(tickets.PASSKEY_SIGN_IN),
        timeout=CHALLENGE_LIFESPAN * 1000,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return json.loads(options_to_json(options))


def _stored_passkey(credential: dict) -> Passkey | None:
    try:
        parsed = parse_authentication_credential_json(credential)
    except UNREADABLE:
        return None
    return db.session.scalar(select(Passkey).where(Passkey.credential_id == parsed.raw_id))


def verify_assertion(credential: dict, user: User | None = None) -> User:
    """The user the browser's sign-in answer proves to be, after using up its challenge: it
    must be signed by a passkey we know (of ``user``, when given), for our site, with user
    verification, and its counter must move forward. Refused: 401 ``invalid_credentials``."""
    config = current_app.config
    challenge = _redeem_challenge(tickets.PASSKEY_SIGN_IN, credential)
    passkey = _stored_passkey(credential)
    if passkey is None or (user is not None and passkey.user_id != user.user_id):
        raise _refusal()
    owner = db.session.get(User, passkey.user_id)
    handle = (credential.get("response") or {}).get("userHandle")
    try:
        if handle and base64url_to_bytes(handle) != owner.webauthn_handle:
            raise _refusal()
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=config["WEBAUTHN_RP_ID"],
            expected_origin=config["WEBAUTHN_ORIGINS"],
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except UNREADABLE as error:
        raise _refusal() from error
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = utcnow()
    return owner


def proves(user: User, credential: dict) -> bool:
    """Whether ``credential`` is a valid sign-in answer of one of ``user``'s passkeys (a second
    factor, or a reauthentication); its challenge is used up either way."""
    try:
        verify_assertion(credential, user)
    except ApiError:
        return False
    return True
