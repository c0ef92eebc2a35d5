"""Passkeys (WebAuthn credentials): a public key the user's authenticator keeps the private half
of. ``app.accounts.passkeys`` registers and checks them."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.columns import timestamp_column


class Passkey(db.Model):
    """One credential of one user: its id and public key as the authenticator gave them, the
    last signature counter it reported (synced passkeys always report 0), and a name."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.user_id", ondelete="CASCADE"))
    credential_id: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[list[str]] = mapped_column(ARRAY(String(16)), default=list)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = timestamp_column()
    last_used_at: Mapped[datetime | None] = timestamp_column(nullable=True)


Index("ix_passkeys_user", Passkey.user_id, Passkey.id)
