"""Data the server keeps to read back later, encrypted (Fernet, from cryptography), and data it
hands out to be given back, signed (HMAC-SHA256: list cursors).

The keys are ``MFA_ENCRYPTION_KEYS`` (comma-separated Fernet keys: the first encrypts, every
one decrypts, so keys can be rotated) and, always last, a key derived from ``SECRET_KEY`` with
HKDF for each purpose, which encrypts when no dedicated key is set: production needs no new
setting. Used for TOTP secrets at rest and for queued e-mails (which carry tokens)."""

import base64
import functools
import hashlib
import hmac
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


@functools.lru_cache(maxsize=32)
def derived_bytes(secret_key: str, purpose: str) -> bytes:
    """32 bytes derived from ``SECRET_KEY`` for ``purpose`` (HKDF-SHA256)."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"gatehouse {purpose}".encode()
    ).derive(secret_key.encode())


def derived_key(secret_key: str, purpose: str) -> bytes:
    """The Fernet key derived from ``SECRET_KEY`` for ``purpose``."""
    return base64.urlsafe_b64encode(derived_bytes(secret_key, purpose))


def signature(text: str, purpose: str) -> str:
    """The signature of ``text`` for ``purpose``: 128 bits of HMAC-SHA256, base64url."""
    key = derived_bytes(current_app.config["SECRET_KEY"], purpose)
    digest = hmac.new(key, text.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def signed(text: str, tag: str, purpose: str) -> bool:
    """Whether ``tag`` is the signature of ``text`` for ``purpose`` (compared in constant time,
    as bytes: a tag from a URL may hold any character)."""
    return hmac.compare_digest(signature(text, purpose).encode(), tag.encode())


def cipher(purpose: str) -> MultiFernet:
    config = current_app.config
    keys = [*config["MFA_ENCRYPTION_KEYS"], derived_key(config["SECRET_KEY"], purpose)]
    return MultiFernet([Fernet(key) for key in keys])


def seal(text: str, purpose: str) -> str:
    return cipher(purpose).encrypt(text.encode()).decode()


def unseal(sealed: str, purpose: str) -> str:
    try:
        return cipher(purpose).decrypt(sealed.encode()).decode()
    except InvalidToken as error:
        raise RuntimeError(
            f"Sealed {purpose} cannot be read: MFA_ENCRYPTION_KEYS or SECRET_KEY changed "
            "without the old key"
        ) from error


def reseal(sealed: str, purpose: str) -> str:
    """``sealed`` encrypted again with the first key."""
    return cipher(purpose).rotate(sealed.encode()).decode()


def seal_json(data: dict, purpose: str) -> str:
    return seal(json.dumps(data), purpose)


def unseal_json(sealed: str, purpose: str) -> dict:
    return json.loads(unseal(sealed, purpose))
