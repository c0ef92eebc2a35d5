"""Passkeys (WebAuthn, with py_webauthn): registering one, and checking an assertion of one.

Each ceremony starts with options holding a challenge, and ends with the browser's answer,
signed over that challenge. The challenge is a ticket (``app.tokens.tickets``): kept in
PostgreSQL for ``tickets.CHALLENGE_LIFESPAN`` seconds, so every worker sees it, and used up by the
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
from webauthn.helpers import (
    decode_credential_public_key,
    decoded_public_key_to_cryptography,
    parse_authentication_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from app.access import mfa_policy
from app.audit import record_event
from app.errors import ApiError
from app.extensions import db
from app.models import Passkey, User
from app.models.columns import utcnow
from app.notices import send_security_notice
from app.tokens import tickets

HANDLE_BYTES = 32
# A browser's client data is a few hundred bytes; anything much longer is not read at all.
MAX_CLIENT_DATA_BYTES = 4096
# What the credential id column holds (WebAuthn allows ids up to 1,023 bytes).
MAX_CREDENTIAL_ID_BYTES = 1023
# What an answer that cannot be read or verified raises: the library's own errors, the decoding
# errors of a malformed field (binascii.Error and UnicodeDecodeError are ValueErrors, a short
# CBOR array an IndexError), and JSON or CBOR nested deeper than the parser goes.
UNREADABLE = (WebAuthnException, ValueError, TypeError, LookupError, AttributeError, RecursionError)
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


def _presented_challenge(credential: dict) -> str:
    """The challenge an answer was signed over, as the ticket it was issued as (client data
    longer than ``MAX_CLIENT_DATA_BYTES`` is not parsed: unreadable)."""
    client_data = base64url_to_bytes(credential["response"]["clientDataJSON"])
    if len(client_data) > MAX_CLIENT_DATA_BYTES:
        raise ValueError("The client data is too long.")
    collected = json.loads(client_data)
    return base64url_to_bytes(collected["challenge"]).decode("ascii")


def _redeem_challenge(kind: str, credential: dict, user: User | None = None) -> bytes:
    """Use up the challenge ``credential`` answers; a challenge that is unknown, expired, used,
    of another ceremony or (with ``user``) of another user is refused."""
    try:
        secret = _presented_challenge(credential)
    except UNREADABLE as error:
        raise _refusal() from error
    if tickets.redeem(kind, secret, user) is None:
        raise _refusal()
    return secret.encode()


def _refusal() -> ApiError:
    return ApiError(401, "invalid_credentials", REFUSED, {"credential": [REFUSED]})


def _invalid(reason: str) -> ApiError:
    """A registration answer that verifies but could not be kept or used: 422."""
    return ApiError(422, "validation_error", details={"credential": [reason]})


def _usable(verified, credential: dict) -> list[str]:
    """What to keep of a verified registration answer besides its key, once its parts are
    checked: an id the column holds, a public key that loads (a point on its curve, numbers
    where numbers belong: a key that does not would break every later sign-in), and the
    transports, a list of strings; else 422."""
    if len(verified.credential_id) > MAX_CREDENTIAL_ID_BYTES:
        raise _invalid(f"The credential id is longer than {MAX_CREDENTIAL_ID_BYTES} bytes.")
    try:
        decoded_public_key_to_cryptography(
            decode_credential_public_key(verified.credential_public_key)
        )
    except UNREADABLE as error:
        raise _invalid("The passkey's public key is not a valid key.") from error
    transports = credential["response"].get("transports") or []
    if not isinstance(transports, list) or not all(isinstance(t, str) for t in transports):
        raise _invalid("transports must be a list of strings.")
    return [transport[:16] for transport in transports][:8]


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
        challenge=tickets.challenge(tickets.PASSKEY_REGISTRATION, user).encode(),
        timeout=tickets.CHALLENGE_LIFESPAN * 1000,
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
    transports = _usable(verified, credential)
    taken = db.session.scalar(
        select(exists().where(Passkey.credential_id == verified.credential_id))
    )
    if taken:
        raise ApiError(409, "conflict", "That passkey is registered already.")
    count = db.session.scalar(select(func.count()).where(Passkey.user_id == user.user_id))
    passkey = Passkey(
        user_id=user.user_id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=transports,
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
        mfa_policy.refuse_if_required(user)
    db.session.delete(passkey)
    record_event("passkey.removed", user.user_id, {"passkey": [passkey.name, None]})


def authentication_options() -> dict:
    """Options for the browser's ``navigator.credentials.get``: no credentials listed (the
    authenticator offers the passkeys it holds for this site), user verification required."""
    options = generate_authentication_options(
        rp_id=current_app.config["WEBAUTHN_RP_ID"],
        challenge=tickets.challenge(tickets.PASSKEY_SIGN_IN).encode(),
        timeout=tickets.CHALLENGE_LIFESPAN * 1000,
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
