"""Personal access tokens: long-lived, scoped, revocable bearer tokens for scripts and CI. Only
the digest of a token is stored (``app.tokens.personal``); revoking one deletes its row."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.columns import timestamp_column


class PersonalToken(db.Model):
    """One token of one user: its name, the scopes it was given, when it expires and was last
    used (kept at most once a minute)."""

    __tablename__ = "personal_tokens"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.user_id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = timestamp_column()
    expires_at: Mapped[datetime] = timestamp_column()
    last_used_at: Mapped[datetime | None] = timestamp_column(nullable=True)
    # Bound to one organization: it reaches that organization's routes and one's own profile,
    # while its user is a member (no foreign key: once the organization is gone, the token
    # answers token_revoked, as for a member who left).
    organization_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


Index("ix_personal_tokens_user", PersonalToken.user_id, PersonalToken.id)
