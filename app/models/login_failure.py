"""Failed sign-ins, counted per login name and client address (not per account), so that a name
nobody has is counted, locked and slowed exactly like a real one."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.columns import timestamp_column


class LoginFailure(db.Model):
    """Consecutive failed password (or code) checks for one login name from one address."""

    __tablename__ = "login_failures"

    # The login name in canonical form (``app.identity``), as typed: unknown names count too.
    login_name: Mapped[str] = mapped_column(String(254), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int]
    last_failed_at: Mapped[datetime] = timestamp_column()
    locked_until: Mapped[datetime | None] = timestamp_column(nullable=True)
