"""Refreshing a session (``POST /refresh``): its refresh token rotates (``app.access.sessions``),
and the answer holds new tokens, unless the account's roles now require MFA and it has none
(403 ``mfa_enrollment_required``: it signs in again, and enrols)."""

from app.access import mfa_policy
from app.access.sessions import rotate
from app.tokens.transport import session_answer


def with_refresh_token(presented: str) -> dict:
    """``/refresh``: the session's new tokens; the token presented is retired."""
    user, session, refresh_token = rotate(presented)
    mfa_policy.refuse_session_without_mfa(user)
    return session_answer(user, session, refresh_token)
