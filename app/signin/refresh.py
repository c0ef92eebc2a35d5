"""Refreshing a session (``POST /refresh``): its refresh token rotates (``app.access.sessions``),
and the answer holds new tokens, unless the account's roles now require MFA and it has none
(403 ``mfa_enrollment_required``: it signs in again, and enrols). With ``organization_id``, the
access token is minted for that organization (404 unless the account is a member: nothing is
rotated then)."""

from sqlalchemy import select

from app.access import mfa_policy
from app.access.sessions import rotate
from app.errors import ApiError
from app.extensions import db
from app.models import Membership
from app.tokens.transport import session_answer


def with_refresh_token(presented: str, organization_id: int | None = None) -> dict:
    """``/refresh``: the session's new tokens; the token presented is retired."""
    user, session, refresh_token = rotate(presented)
    mfa_policy.refuse_session_without_mfa(user)
    membership = None
    if organization_id is not None:
        membership = db.session.scalar(
            select(Membership).where(
                Membership.organization_id == organization_id,
                Membership.user_id == user.user_id,
            )
        )
        if membership is None:
            raise ApiError(404, "not_found", "No organization of yours has that id.")
    return session_answer(user, session, refresh_token, membership)
