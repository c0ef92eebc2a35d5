"""Tickets: short-lived, single-use secrets the server hands out for one step of a ceremony
(the second step of a sign-in, an MFA enrolment, a passkey challenge, a provider's redirect, a
code exchanged for tokens). Only the SHA-256 of a ticket is stored, with what its step needs.
``app.tokens.tickets`` issues, reads and redeems them."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.columns import timestamp_column, utcnow


class Ticket(db.Model):
    """One ticket: its kind, the user it is for (if any), what its step needs, its expiry."""

    __tablename__ = "tickets"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.user_id", ondelete="CASCADE"), nullable=True
    )
    data: Mapped[dict] = mapped_column(JSONB, default=dict)
    expires_at: Mapped[datetime] = timestamp_column()
    # The client a ticket for nobody yet was issued to (``app.addresses``: an address, or an
    # IPv6 /64): how many live ones a client holds is capped.
    issued_to: Mapped[str | None] = mapped_column(String(64), nullable=True)

    @property
    def expired(self) -> bool:
        return utcnow() >= self.expires_at


Index("ix_tickets_expires_at", Ticket.expires_at)
Index("ix_tickets_user_id", Ticket.user_id)
Index(
    "ix_tickets_issued_to",
    Ticket.issued_to,
    Ticket.expires_at,
    postgresql_where=Ticket.issued_to.is_not(None),
)
