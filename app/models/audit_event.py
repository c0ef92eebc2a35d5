"""What happened to which account, who did it, and within which request."""

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.columns import timestamp_column


class AuditEvent(db.Model):
    """One change to an account. Ids are kept as plain numbers, not foreign keys, so the trail
    outlives the accounts it speaks of."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = timestamp_column()
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # {field: [old, new]}; never a password or a hash.
    changes: Mapped[dict] = mapped_column(JSONB, default=dict)
    # The X-Request-ID of the response (the client's, when it sent a sane one)...
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # ... and the server's own, always beside it: a client cannot choose what files an event.
    server_request_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The organization the event belongs to (its own audit log), when it does.
    organization_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The transaction that wrote it (PostgreSQL's xid8): webhooks read the trail in the order
    # (transaction_id, id), in which no event can appear behind one already read
    # (app/events/dispatch.py).
    transaction_id: Mapped[int] = mapped_column(
        BigInteger, server_default=text("(pg_current_xact_id())::text::bigint")
    )


Index("ix_audit_events_actor_id", AuditEvent.actor_id, AuditEvent.id)
Index("ix_audit_events_target_id", AuditEvent.target_id, AuditEvent.id)
Index("ix_audit_events_action", AuditEvent.action, AuditEvent.id)
Index(
    "ix_audit_events_organization",
    AuditEvent.organization_id,
    AuditEvent.id,
    postgresql_where=AuditEvent.organization_id.is_not(None),
)
Index("ix_audit_events_transaction", AuditEvent.transaction_id, AuditEvent.id)
