"""Tokens revoked one by one (logout), kept until they could no longer be refreshed."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.columns import timestamp_column


class RevokedToken(db.Model):
    """A token id (``jti``) that must not be accepted again, whatever its expiry says."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.user_id", ondelete="CASCADE"), index=True
    )
    # The token's refresh expiry: past it the token is useless anyway and the row can go.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    revoked_at: Mapped[datetime] = timestamp_column()
