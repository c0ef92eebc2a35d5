"""Refresh tokens: a session's opaque token (``app.tokens.opaque``), of which only the digest is
stored, with the session it renews and the token it replaced. How they rotate, and what a
reuse means, is ``app.access.sessions``."""

from sqlalchemy import Row, select

from app.extensions import db
from app.models import RefreshToken, UserSession
from app.tokens.opaque import digest, new_secret


def mint(session: UserSession, predecessor_id: int | None = None) -> str:
    """A new refresh token of ``session`` (replacing ``predecessor_id``), shown this once."""
    token = new_secret()
    db.session.add(
        RefreshToken(session_id=session.id, token_hash=digest(token), predecessor_id=predecessor_id)
    )
    return token


def find(presented: str) -> Row | None:
    """The id and session of the refresh token ``presented`` is (retired or not), or None."""
    return db.session.execute(
        select(RefreshToken.id, RefreshToken.session_id).where(
            RefreshToken.token_hash == digest(presented)
        )
    ).first()
