"""Signing in with a passkey alone (``POST /login/passkey``): it names and proves its user, with
user verification, a second factor in itself. The ceremony's checks are
``app.accounts.passkeys``."""

from app.accounts import passkeys
from app.errors import ApiError
from app.signin import sign_in


def with_passkey(credential: dict) -> dict:
    """``/login/passkey``: the passkey's user, signed in."""
    user = passkeys.verify_assertion(credential)
    if not user.may_sign_in:
        raise ApiError(403, "account_disabled")
    return sign_in(user, "passkey")
