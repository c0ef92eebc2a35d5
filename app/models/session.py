"""Sessions: what a login starts, and the refresh tokens that keep it going.

A login starts a session; its access tokens name it (claim ``sid``), and its refresh token is
an opaque random string of which only a hash is kept. Each refresh retires the token presented
and issues its successor (rotation); at most one token of a session is live at a time, which a
unique index enforces. Ending a session (logout, a password change, an admin...) stops its
access and refresh tokens at once: the guard reads the session's state on every request.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.columns import timestamp_column


class UserSession(db.Model):
    """One login of one user, on one device, until it ends or expires."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.user_id", ondelete="CASCADE"))
    # How it signed in: password, totp, recovery_code (a second step), passkey, provider:<name>.
    method: Mapped[str] = mapped_column(String(64), default="password", server_default="password")
    created_at: Mapped[datetime] = timestamp_column()
    # The last login or refresh: the session ends SESSION_IDLE_LIFESPAN after it.
    last_used_at: Mapped[datetime] = timestamp_column()
    idle_expires_at: Mapped[datetime] = timestamp_column()
    # JWT_REFRESH_LIFESPAN after the login, whatever happens.
    expires_at: Mapped[datetime] = timestamp_column()
    # The last time the password was checked (login, reauthentication, a password change):
    # "fresh" routes; and the access token that made the check (fresh with it), if any.
    authenticated_at: Mapped[datetime] = timestamp_column()
    authenticated_jti: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Moves on with each password change: the session's access tokens minted before stop.
    generation: Mapped[int] = mapped_column(default=0, server_default="0")
    ended_at: Mapped[datetime | None] = timestamp_column(nullable=True)
    ended_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(256), nullable=True)
    ip_address: Mapped[str | None] = mapped_column(String(64), nullable=True)

    refresh_tokens: Mapped[list["RefreshToken"]] = relationship(
        back_populates="session", passive_deletes=True, lazy="raise"
    )

    @property
    def ends_at(self) -> datetime:
        """When the session expires unless refreshed first (idle or absolute, the earlier)."""
        return min(self.expires_at, self.idle_expires_at)

    def is_over(self, now: datetime) -> bool:
        """Whether the session has ended or expired at ``now``."""
        return self.ended_at is not None or now >= self.ends_at


class RefreshToken(db.Model):
    """A refresh token, known by its digest only; ``used_at`` is set when it is retired."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    predecessor_id: Mapped[int | None] = mapped_column(
        ForeignKey("refresh_tokens.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = timestamp_column()
    used_at: Mapped[datetime | None] = timestamp_column(nullable=True)
    # Retired by a password change in its session (not by a refresh): presented later, it is
    # refused without ending the session, which the change just secured.
    renewed: Mapped[bool] = mapped_column(default=False, server_default=false())

    session: Mapped[UserSession] = relationship(back_populates="refresh_tokens", lazy="raise")


Index("ix_sessions_user", UserSession.user_id, UserSession.last_used_at)
# A user's live sessions, in the order the session cap reads them, without walking the ended
# ones (an account that signs in often has thousands).
Index(
    "ix_sessions_live",
    UserSession.user_id,
    UserSession.last_used_at,
    postgresql_where=text("ended_at IS NULL"),
)
Index("ix_refresh_tokens_session", RefreshToken.session_id)
# At most one live token per session: two refreshes at once never leave two live children.
Index(
    "uq_refresh_tokens_live",
    RefreshToken.session_id,
    unique=True,
    postgresql_where=text("used_at IS NULL"),
)


@dataclass(frozen=True)
class SessionState:
    """What the guard reads of the session an access token names, in the token's statement."""

    id: int
    ended_at: datetime | None
    expires_at: datetime
    idle_expires_at: datetime
    authenticated_at: datetime
    authenticated_jti: str | None
    generation: int

    @property
    def ends_at(self) -> datetime:
        return min(self.expires_at, self.idle_expires_at)
