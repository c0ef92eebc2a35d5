"""Tokens sent by e-mail (password reset, confirmation) are good once: each carries the user's
token version, which moves on when the password or the address changes, voiding every such
token sent before. Access and refresh tokens belong to sessions (``app.auth.sessions``).
"""

from sqlalchemy import delete, or_

from app.extensions import db
from app.models import User, UserSession
from app.models.columns import utcnow


def void_emailed_tokens(user: User) -> None:
    """Refuse every reset and confirmation token sent to ``user`` so far."""
    user.token_version = User.token_version + 1


def prune_sessions() -> int:
    """Delete sessions that ended or expired (and their refresh tokens); return how many."""
    now = utcnow()
    result = db.session.execute(
        delete(UserSession).where(
            or_(
                UserSession.ended_at.is_not(None),
                UserSession.expires_at <= now,
                UserSession.idle_expires_at <= now,
            )
        )
    )
    db.session.commit()
    return result.rowcount
