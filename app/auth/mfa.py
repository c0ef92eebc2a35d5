"""Multi-factor authentication: TOTP (RFC 6238) with recovery codes (ASVS 6.3, 6.5, 6.6).

- A TOTP secret (160 random bits, pyotp) is stored encrypted (``app.sealing``: Fernet, with
  ``MFA_ENCRYPTION_KEYS`` or a key derived from ``SECRET_KEY``). ``flask rotate-mfa-keys``
  re-encrypts every secret with the first key.
- A code is 6 digits for a 30-second step, accepted for the current step and one step either
  side (clock drift), and only for a step later than the last one accepted: a code works once,
  even for two requests at the same moment (one conditional UPDATE decides).
- Ten recovery codes of 80 random bits each, shown once, stored as SHA-256 hashes, each used
  at most once (again one conditional UPDATE).
- A password login of an account with MFA on gives no tokens but an ``mfa_token``: a JWT for
  the audience ``gatehouse:mfa`` lasting 5 minutes, which is good for ``/login/mfa`` only
  (praetorian's decoding refuses a token with an audience it was not told of, so it is no
  access token). An account that must enrol (``MFA_REQUIRED_ROLES``) gets an enrolment token,
  for the audience ``gatehouse:mfa-enrolment``, good for the two enrolment routes only.
"""

import hashlib
import hmac
import secrets
import time
import uuid

import jwt
import pyotp
import segno
from flask import current_app
from sqlalchemy import delete, update

from app.auth.login import check_credential
from app.errors import ApiError
from app.extensions import db, guard
from app.models import RecoveryCode, User
from app.models.columns import utcnow
from app.sealing import reseal, seal, unseal

ISSUER = "Gatehouse"
RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_GROUPS = 4  # of 4 characters of base32: 16 characters, 80 bits
MFA_AUDIENCE = "gatehouse:mfa"
ENROLMENT_AUDIENCE = "gatehouse:mfa-enrolment"
MFA_TOKEN_LIFESPAN = 300
ENROLMENT_TOKEN_LIFESPAN = 900


TOTP_PURPOSE = "totp secrets"


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
        "qr_svg": segno.make(uri, error="m").svg_inline(scale=4),
    }


def accept_code(user: User, code: str) -> bool:
    """Whether ``code`` is the TOTP of ``user`` for now (one step of drift either way) and for
    a step later than the last accepted one; accepting it records its step."""
    if user.totp_secret is None or not code.isdigit():
        return False
    totp = pyotp.TOTP(secret_of(user))
    now = time.time()
    for drift in (0, -1, 1):
        moment = now + drift * totp.interval
        if hmac.compare_digest(totp.at(moment), code):
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
        .returning(users.c.user_id)
    ).first()
    if claimed:
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
        .returning(RecoveryCode.id)
    ).first()
    return used is not None


def accept_code_or_recovery_code(user: User, code: str) -> bool:
    """A TOTP code (6 digits) or, otherwise, a recovery code."""
    if len(code) == 6 and code.isdigit():
        return accept_code(user, code)
    return accept_recovery_code(user, code)


def check_code(user: User, code: str, field_name: str = "code", recovery: bool = False) -> None:
    """401 ``invalid_credentials`` (counted towards the lockout) unless ``code`` is good: a code
    from the app, or with ``recovery`` also a recovery code."""
    accept = accept_code_or_recovery_code if recovery else accept_code
    check_credential(user, lambda: accept(user, code), field_name, label="code")


def enable(user: User) -> list[str]:
    user.mfa_enabled_at = utcnow()
    return new_recovery_codes(user)


def disable(user: User) -> None:
    user.totp_secret = None
    user.mfa_enabled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.user_id))


def must_enrol(user: User) -> bool:
    required = set(current_app.config["MFA_REQUIRED_ROLES"])
    return not user.mfa_enabled and bool(required & set(user.rolenames))


def issue_token(user: User, audience: str, lifespan: int) -> str:
    """A short-lived token for one step of a sign-in, good for nothing else."""
    now = int(time.time())
    claims = {
        "sub": str(user.user_id),
        "aud": audience,
        "iat": now,
        "exp": now + lifespan,
        "jti": uuid.uuid4().hex,
        "tv": user.token_version,
    }
    return jwt.encode(claims, guard.encode_key, algorithm=guard.encode_algorithm)


def user_of_token(token: str, audience: str) -> User:
    """The user of a sign-in step token (PyJWT verifies it), still able to sign in."""
    try:
        claims = jwt.decode(
            token,
            guard.encode_key,
            algorithms=[guard.encode_algorithm],
            audience=audience,
            options={"require": ["exp", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise ApiError(401, "token_expired", "The token has expired: sign in again.") from error
    except jwt.InvalidTokenError as error:
        raise ApiError(401, "invalid_token", "The token is not valid here.") from error
    user = db.session.get(User, int(claims["sub"]))
    if user is None or claims.get("tv") != user.token_version:
        raise ApiError(401, "token_revoked", "The token was revoked: sign in again.")
    if not user.may_sign_in:
        raise ApiError(403, "account_disabled", "The account is disabled.")
    return user
