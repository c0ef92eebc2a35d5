"""MFA recovery codes: shown once, stored as hashes, each good for one sign-in."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.columns import timestamp_column


class RecoveryCode(db.Model):
    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.user_id", ondelete="CASCADE"), index=True
    )
    # SHA-256 of the code: 80 random bits need no slow hash.
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = timestamp_column(nullable=True)
