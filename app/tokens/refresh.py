"""Refresh tokens: a session's opaque token (``app.tokens.opaque``), of which only the digest is
stored, with the session it renews and the token it replaced. How they rotate, and what a
reuse means, is ``app.access.sessions``."""

from sqlalchemy import or_, select

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


def locked_session_of(presented: str) -> tuple[UserSession, int] | None:
    """The session the refresh token ``presented`` (retired or not) renews, its row locked until
    the transaction ends, and the token's id; None for a token that is not one of ours (or whose
    session is gone). One statement: the lock is taken on the session's row only (a token's
    hash and session never change, so what the join read before a wait for the lock holds)."""
    row = db.session.execute(
        select(UserSession, RefreshToken.id)
        # (equivalent mutant: no ON clause; SQLAlchemy takes it from the one foreign key.)
        .join(RefreshToken, RefreshToken.session_id == UserSession.id)
        .where(RefreshToken.token_hash == digest(presented))
        # (equivalent mutant: of=None, locking the token's row too; every change of a session's
        # tokens locks the session's row first, so nothing waits on the token's.)
        .with_for_update(of=UserSession)
        # (equivalent mutant: populate_existing off; a /refresh request has loaded no session
        # before this statement, so there is nothing stale to overwrite. It guards a caller
        # that has.)
        .execution_options(populate_existing=True)
    ).first()
    return None if row is None else (row[0], row[1])


def presented_and_live(session_id: int, token_id: int) -> tuple[RefreshToken, RefreshToken | None]:
    """The refresh token ``token_id`` of the session and the session's live one (None when
    none is; the presented one when it is live), as they are now: read after the session's
    lock (``locked_session_of``), in one statement."""
    tokens = db.session.scalars(
        select(RefreshToken)
        .where(
            RefreshToken.session_id == session_id,
            # (equivalent mutant: without this condition; every token of the session is read,
            # and the two wanted are picked from them below: the same two, more rows read.)
            or_(RefreshToken.id == token_id, RefreshToken.used_at.is_(None)),
        )
        # (equivalent mutant: populate_existing off; the lookup before read the token's id,
        # not the token, so none is loaded yet. It guards a caller that has.)
        .execution_options(populate_existing=True)
    ).all()
    (presented,) = [token for token in tokens if token.id == token_id]
    # (Never two live: each rotation retires the live one in the transaction that adds the next.)
    (live,) = [token for token in tokens if token.used_at is None] or [None]
    return presented, live
