"""Personal access tokens' format: ``gh_pat_`` and 256 random bits (``app.tokens.opaque``). The
fixed prefix lets secret scanners find a leaked one and the guard tell one from a JWT; only
the digest is kept. What a token may do is ``app.auth.personal_tokens`` and ``app.auth.scopes``."""

from app.tokens.opaque import digest, new_secret

PREFIX = "gh_pat_"


def mint() -> tuple[str, str]:
    """A new personal token, and its digest (what is stored)."""
    token = new_secret(PREFIX)
    return token, digest(token)


def is_personal(token: str) -> bool:
    return token.startswith(PREFIX)
