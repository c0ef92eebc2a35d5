"""Multi-factor authentication: TOTP (RFC 6238) with recovery codes (ASVS 6.3, 6.5, 6.6).

- A TOTP secret (160 random bits, pyotp) is stored encrypted (``app.sealing``: Fernet, with
  ``MFA_ENCRYPTION_KEYS`` or a key derived from ``SECRET_KEY``). ``flask rotate-mfa-keys``
  re-encrypts every secret with the first key.
- A code is 6 digits for a 30-second step, accepted for the current step and one step either
  side (clock drift), and only for a step later than the last one accepted: a code works once,
  even for two requests at the same moment (one conditional UPDATE decides).
- Ten recovery codes of 80 random bits each, shown once, stored as SHA-256 hashes, each used
  at most once (again one conditional UPDATE).
- A password login of an account with MFA on gives no tokens but a ticket for the second step
  (``app.signin``); codes are checked as factors (``app.accounts.factors``), so wrong ones
  count towards the lockout.
- Turning MFA on or off, or an admin's reset, is audited and told to the account's holder.
"""

import hashlib
import hmac
import re
import secrets
import time

import pyotp
import segno
from sqlalchemy import delete, update

from app.access.sessions import end_sessions
from app.audit import record_event
from app.errors import ApiError
from app.extensions import db
from app.models import Passkey, RecoveryCode, User
from app.models.columns import utcnow
from app.notices import send_security_notice
from app.sealing import reseal, seal, unseal

ISSUER = "Gatehouse"
RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_GROUPS = 4  # of 4 characters of base32: 16 characters, 80 bits
# Six ASCII digits: other scripts' digits pass ``str.isdigit`` but are no code (and would reach
# ``hmac.compare_digest``, which takes ASCII strings only).
TOTP_CODE = re.compile(r"[0-9]{6}")
TOTP_PURPOSE = "totp secrets"
NO_PENDING_SECRET = "Start with POST /users/me/mfa/totp: there is no secret to confirm."  # noqa: S105


def secret_of(user: User) -> str:
    return unseal(user.totp_secret, TOTP_PURPOSE)


def rotate_secrets() -> int:
    """Re-encrypt every stored TOTP secret with the first key; return how many."""
    users = db.session.scalars(db.select(User).where(User.totp_secret.is_not(None))).all()
    for user in users:
        user.totp_secret = reseal(user.totp_secret, TOTP_PURPOSE)
    db.session.commit()
    return len(users)


def start_enrolment(user: User) -> dict:
    """A new secret for ``user`` (not active until a code confirms it), and how to add it to an
    authenticator app. The secret is shown this once."""
    if user.mfa_enabled:
        raise ApiError(409, "conflict", "MFA is already on: turn it off first to start again.")
    secret = pyotp.random_base32()
    user.totp_secret = seal(secret, TOTP_PURPOSE)
    user.totp_last_step = None
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)
    return {
        "secret": secret,
        "otpauth_uri": uri,
        # (equivalent mutant: error="M"; segno reads the level's letter in either case.)
        "qr_svg": segno.make(uri, error="m").svg_inline(scale=4),
    }


def accept_code(user: User, code: str) -> bool:
    """Whether ``code`` is the TOTP of ``user`` for now (one step of drift either way) and for
    a step later than the last accepted one; accepting it records its step."""
    if user.totp_secret is None or not TOTP_CODE.fullmatch(code):
        return False
    totp = pyotp.TOTP(secret_of(user))
    now = time.time()
    for drift in (0, -1, 1):
        # (equivalent mutant: now - drift; the step before and the step after are tried in the
        # other order, which counts only if both had the same code, one chance in a million.)
        moment = now + drift * totp.interval
        if hmac.compare_digest(totp.at(moment), code):
            # (equivalent mutant: /; the time is positive, so int() floors the quotient as //
            # does, and no float time of this era is near enough a step's end to round up to it.)
            return claim_step(user, int(moment // totp.interval))
    return False


def claim_step(user: User, step: int) -> bool:
    """Record ``step`` as used, unless it (or a later one) was used already."""
    users = User.__table__
    claimed = db.session.execute(
        update(users)
        .where(
            users.c.user_id == user.user_id,
            (users.c.totp_last_step.is_(None)) | (users.c.totp_last_step < step),
        )
        .values(totp_last_step=step)
        # (equivalent mutant: returning(None); a row of NULL is returned all the same, and
        # only whether there is one counts.)
        .returning(users.c.user_id)
    ).first()
    if claimed:
        # (equivalent mutant: every column refreshed; no change of the user is pending when a
        # code is checked, and of what else reloads only updated_at (moved by this UPDATE)
        # differs, which no request that checks a code answers with.)
        db.session.refresh(user, ["totp_last_step"])
    return claimed is not None


def hash_recovery_code(code: str) -> str:
    normalized = code.replace("-", "").replace(" ", "").lower()
    return hashlib.sha256(normalized.encode()).hexdigest()


def new_recovery_codes(user: User) -> list[str]:
    """Ten new recovery codes for ``user``; the old ones stop working. Shown this once."""
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    codes = [
        "-".join(
            "".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(RECOVERY_CODE_GROUPS)
        )
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.user_id))
    db.session.add_all(
        RecoveryCode(user_id=user.user_id, code_hash=hash_recovery_code(code)) for code in codes
    )
    return codes


def accept_recovery_code(user: User, code: str) -> bool:
    """Whether ``code`` is an unused recovery code of ``user``; accepting it uses it up."""
    used = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.user_id,
            RecoveryCode.code_hash == hash_recovery_code(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        # (equivalent mutant: returning(None); a row of NULL is returned all the same, and
        # only whether there is one counts.)
        .returning(RecoveryCode.id)
    ).first()
    return used is not None


def accept_code_or_recovery_code(user: User, code: str) -> bool:
    """A TOTP code (6 digits) or, otherwise, a recovery code."""
    if TOTP_CODE.fullmatch(code):
        return accept_code(user, code)
    return accept_recovery_code(user, code)


def require_pending_secret(user: User) -> None:
    """409 unless a secret waits for its first code (``start_enrolment`` came first)."""
    if user.totp_secret is None or user.mfa_enabled:
        raise ApiError(409, "conflict", NO_PENDING_SECRET)


def turn_on(user: User) -> list[str]:
    """MFA on (its first code was checked): audited, told, and the recovery codes (once)."""
    user.mfa_enabled_at = utcnow()
    record_event("user.mfa_enabled", user.user_id, {"mfa_enabled": [False, True]})
    send_security_notice(
        user,
        "Two-step sign-in is on",
        "Your account now asks for a code from your authenticator app at each sign-in. If this "
        "was not you, reset your password and contact an administrator.",
    )
    return new_recovery_codes(user)


def disable(user: User) -> None:
    user.totp_secret = None
    user.mfa_enabled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.user_id))


def turn_off(user: User) -> None:
    """MFA off by its holder (a code or recovery code was checked): audited and told."""
    disable(user)
    record_event("user.mfa_disabled", user.user_id, {"mfa_enabled": [True, False]})
    send_security_notice(
        user,
        "Two-step sign-in is off",
        "Your account no longer asks for a code at sign-in. If this was not you, reset your "
        "password and contact an administrator.",
    )


def reset(user: User) -> None:
    """An admin turns MFA off for ``user`` (a lost device): TOTP off, passkeys removed, every
    session of theirs ends; audited and told."""
    was_on = user.mfa_enabled
    disable(user)
    removed = db.session.scalars(
        delete(Passkey).where(Passkey.user_id == user.user_id).returning(Passkey.name)
    ).all()
    for name in removed:
        record_event("passkey.removed", user.user_id, {"passkey": [name, None]})
    end_sessions(user.user_id, "mfa_reset")
    record_event("user.mfa_reset", user.user_id, {"mfa_enabled": [was_on, False]})
    send_security_notice(
        user,
        "Two-step sign-in was reset by an administrator",
        "An administrator turned two-step sign-in off for your account and ended its "
        "sessions. Sign in again, and turn it back on from your profile.",
    )
