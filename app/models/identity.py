"""Identities at OpenID Connect providers: an account signs in through a provider as the pair
(issuer, subject) the provider vouches for. ``app.signin.oidc`` makes and reads them."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.columns import timestamp_column


class Identity(db.Model):
    """One account's identity at one provider: the configured provider's name, its issuer and
    the subject it gave, and the e-mail address it gave when linked (for people to recognise)."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_identities_issuer_subject"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.user_id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    created_at: Mapped[datetime] = timestamp_column()


Index("ix_identities_user", Identity.user_id, Identity.id)
