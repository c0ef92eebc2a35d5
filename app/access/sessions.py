"""Sessions: what a login starts, how its refresh token rotates, and how sessions end.

- A login starts a session (the least recently used one ends past ``SESSIONS_PER_USER``). Its
  access tokens name it (``app.tokens.access``); its refresh token is an opaque token
  (``app.tokens.opaque``) of which only the digest is stored.
- ``/refresh`` rotates: in one transaction that locks the session row, the token presented is
  retired and its successor issued. A retired token presented again within
  ``REFRESH_REUSE_GRACE`` seconds of its retirement, while its successor is the live one, is a
  client's retry: the successor is retired in turn and a new one issued (never two live
  tokens). Any other retired token is theft or its aftermath (OAuth 2.0 Security BCP, RFC 9700
  4.14.2: the server cannot tell thief from victim): the whole session ends, the event is
  audited and the user is told by e-mail.
- A session ends after ``SESSION_IDLE_LIFESPAN`` seconds without a refresh and, in any case,
  ``JWT_REFRESH_LIFESPAN`` seconds after its login. Ending one (logout, a password change, an
  admin) stops its access tokens on the very next request: the guard reads its state each time.
- A password change renews the session it is made in: the session's generation moves on (its
  access tokens minted before stop working), its live refresh token retires as replaced (one
  presented later is refused, but ends nothing: it is not a sign of theft) and a new one is
  issued. Every change of a session's tokens locks its row first, so a refresh and a password
  change of the same session are served one after the other.
"""

from datetime import datetime, timedelta

from flask import current_app, g, request
from sqlalchemy import delete, or_, select, update

from app.audit import record_event
from app.errors import ApiError
from app.extensions import db
from app.models import RefreshToken, User, UserSession
from app.models.columns import utcnow
from app.notices import send_security_notice
from app.tokens import refresh


def _seconds(setting: str) -> timedelta:
    config = current_app.config[setting]
    return timedelta(**config) if isinstance(config, dict) else timedelta(seconds=config)


def start_session(user: User, method: str) -> tuple[UserSession, str]:
    """A new session for ``user``, who just signed in by ``method``, and its refresh token."""
    now = utcnow()
    _end_least_recently_used(user.user_id, now)
    session = UserSession(
        user_id=user.user_id,
        method=method,
        created_at=now,
        last_used_at=now,
        idle_expires_at=now + _seconds("SESSION_IDLE_LIFESPAN"),
        expires_at=now + _seconds("JWT_REFRESH_LIFESPAN"),
        authenticated_at=now,
        user_agent=(request.user_agent.string or None) and request.user_agent.string[:256],
        ip_address=request.remote_addr,
    )
    db.session.add(session)
    db.session.flush()
    return session, refresh.mint(session)


def _end_least_recently_used(user_id: int, now: datetime) -> None:
    """Make room for one more session within ``SESSIONS_PER_USER``: the live sessions past the
    ``SESSIONS_PER_USER - 1`` most recently used end, in one statement. The caller holds the
    account's row (``sign_in``), so two sign-ins of one account count one after the other."""
    limit = current_app.config["SESSIONS_PER_USER"]
    beyond = (
        select(UserSession.id)
        .where(
            UserSession.user_id == user_id,
            UserSession.ended_at.is_(None),
            UserSession.expires_at > now,
            UserSession.idle_expires_at > now,
        )
        .order_by(UserSession.last_used_at.desc(), UserSession.id.desc())
        .offset(limit - 1)
    )
    db.session.execute(
        update(UserSession)
        # (ended_at again: a session another request ended meanwhile keeps its reason)
        .where(UserSession.id.in_(beyond.scalar_subquery()), UserSession.ended_at.is_(None))
        .values(ended_at=now, ended_reason="evicted")
        .execution_options(synchronize_session="fetch")
    )


def rotate(presented: str) -> tuple[User, UserSession, str]:
    """The session ``presented`` refreshes, its user, and the refresh token that replaces it;
    401 for an unknown, retired (after the grace) or expired token, 403 for a disabled account.
    A reuse is committed (the session ends) before the 401."""
    found = refresh.locked_session_of(presented)
    if found is None:
        raise ApiError(401, "invalid_token", "The refresh token is not one of ours.")
    session, token_id = found
    now = utcnow()
    if session.ended_at is not None:
        raise ApiError(401, "token_revoked", "The session has ended.")
    if session.is_over(now):
        raise ApiError(401, "token_expired", "The session has expired: sign in again.")
    token, live = refresh.presented_and_live(session.id, token_id)
    grace = timedelta(seconds=current_app.config["REFRESH_REUSE_GRACE"])
    if token.renewed:
        raise ApiError(
            401, "token_revoked", "The session's password changed: sign in again on this device."
        )
    if token.used_at is not None:
        is_retry = (
            live is not None and live.predecessor_id == token.id and now - token.used_at <= grace
        )
        if not is_retry:
            _reuse_detected(session)
            raise ApiError(401, "token_revoked", "The refresh token was used already.")
        live.used_at = now
    else:
        token.used_at = now
    user = db.session.get(User, session.user_id)
    if not user.may_sign_in:
        raise ApiError(403, "account_disabled")
    session.last_used_at = now
    session.idle_expires_at = now + _seconds("SESSION_IDLE_LIFESPAN")
    db.session.flush()
    return user, session, refresh.mint(session, predecessor_id=token.id)


def _reuse_detected(session: UserSession) -> None:
    end_session(session, "reuse_detected")
    user = db.session.get(User, session.user_id)
    record_event("session.reuse_detected", user.user_id, {"session": [session.id, None]})
    db.session.commit()
    send_security_notice(
        user,
        "A sign-in of your Gatehouse account was ended",
        "A refresh token of one of your sessions was presented after it had been replaced. "
        "That happens when a token is stolen and used, so the session was ended: every device "
        "using it must sign in again. If this surprises you, change your password.",
    )


def lock_session(session_id: int) -> UserSession:
    """The session, its row locked until the transaction ends: every change of a session's
    tokens waits for this lock, so two at once are served one after the other, and the second
    sees what the first did."""
    return db.session.scalars(
        select(UserSession)
        .where(UserSession.id == session_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def renew(session: UserSession) -> str:
    """After a password change in ``session`` (locked, ``lock_session``): a new generation (the
    session's access tokens minted before stop working), its live refresh token retired as
    replaced, and a new one."""
    now = utcnow()
    db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.session_id == session.id, RefreshToken.used_at.is_(None))
        .values(used_at=now, renewed=True)
    )
    session.generation += 1
    session.authenticated_at = now
    session.authenticated_jti = None
    db.session.flush()
    return refresh.mint(session)


def require_fresh_authentication() -> None:
    """For "fresh" routes: the session's last password check (login, ``/reauthenticate``, a
    password change) must be at most ``REAUTH_WINDOW`` seconds old, else 401
    ``reauthentication_required`` with RFC 9470's ``WWW-Authenticate`` challenge."""
    window = current_app.config["REAUTH_WINDOW"]
    checked = g.get("authenticated_at")
    if checked is not None and utcnow() - checked <= timedelta(seconds=window):
        return
    raise ApiError(
        401,
        "reauthentication_required",
        headers={
            "WWW-Authenticate": 'Bearer error="insufficient_user_authentication", '
            'error_description="A recent password check is required", '
            f"max_age={window}"
        },
    )


def mark_authenticated(session: UserSession, token_id: str) -> None:
    """The session's user just proved their password again (``/reauthenticate``) with the
    access token ``token_id``: it, and the tokens minted from now on, are fresh."""
    session.authenticated_at = utcnow()
    session.authenticated_jti = token_id


def end_session(session: UserSession, reason: str) -> None:
    """End ``session``: its access and refresh tokens stop working at once."""
    if session.ended_at is None:
        session.ended_at = utcnow()
        session.ended_reason = reason


def end_sessions(user_id: int, reason: str, keep: int | None = None) -> int:
    """End every live session of the user (but ``keep``); return how many ended."""
    statement = (
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_reason=reason)
        .execution_options(synchronize_session="fetch")
    )
    if keep is not None:
        statement = statement.where(UserSession.id != keep)
    return db.session.execute(statement).rowcount


def current_session_id() -> int | None:
    """The session the request's access token names."""
    return g.get("authenticated_session_id")


def current_token_id() -> str | None:
    """The ``jti`` of the request's access token."""
    return g.get("authenticated_token_id")


def current_session(lock: bool = False) -> UserSession:
    """The session of the request's access token (the guard checked it is live); with
    ``lock``, its row locked (``lock_session``)."""
    if lock:
        return lock_session(current_session_id())
    return db.session.get(UserSession, current_session_id())


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
