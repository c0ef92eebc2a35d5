"""Opaque tokens: random strings that mean nothing by themselves, known to the server by their
SHA-256 only (refresh tokens, personal tokens, tickets). 256 random bits need no slow hash: a
digest cannot be reversed, and guessing a token is hopeless."""

import hashlib
import secrets

RANDOM_BYTES = 32


def new_secret(prefix: str = "") -> str:
    """A new token: ``prefix`` and 256 random bits, URL-safe."""
    return prefix + secrets.token_urlsafe(RANDOM_BYTES)


def digest(token: str) -> str:
    """What is stored of a token."""
    return hashlib.sha256(token.encode()).hexdigest()
