"""Webhooks: the endpoints that want to hear about account events, and each attempt to tell
them. The events themselves are the audit trail's (``AuditEvent``): an attempt names the
event it carries, whose body is built from the audit row when it is sent (``app.events``).

``WebhookCursor`` is how far the audit trail has been read for webhooks: a position in the
order (transaction, id) that every committed event is found in, once its transaction and every
older one have ended (``app.events.dispatch``)."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    cast,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.columns import timestamp_column

# SQL: the id of the current transaction (PostgreSQL's 64-bit xid8, as a bigint).
CURRENT_TRANSACTION = cast(cast(func.pg_current_xact_id(), Text), BigInteger)
CURRENT_TRANSACTION_DEFAULT = text("(pg_current_xact_id())::text::bigint")

PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"


class WebhookEndpoint(db.Model):
    """A URL that is sent the events it subscribes to, signed with its secret (kept sealed,
    ``app.sealing``). After a rotation the previous secret signs alongside the new one until
    ``previous_secret_until``. ``enabled_transaction`` is the transaction that created or last
    enabled it: events of earlier transactions are never sent to it."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(500), default="", server_default="")
    events: Mapped[list[str]] = mapped_column(ARRAY(Text))
    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    disabled_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    secret: Mapped[str] = mapped_column(Text)
    previous_secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    previous_secret_until: Mapped[datetime | None] = timestamp_column(nullable=True)
    enabled_transaction: Mapped[int] = mapped_column(
        BigInteger, server_default=CURRENT_TRANSACTION_DEFAULT
    )
    # The first failure since the last success: an endpoint failing for
    # WEBHOOK_DISABLE_AFTER seconds is disabled.
    failing_since: Mapped[datetime | None] = timestamp_column(nullable=True)
    # Which delivery job may send to it now, and until when (a job that died lets go).
    lease: Mapped[str | None] = mapped_column(String(32), nullable=True)
    leased_until: Mapped[datetime | None] = timestamp_column(nullable=True)
    created_at: Mapped[datetime] = timestamp_column()
    updated_at: Mapped[datetime] = timestamp_column(onupdate=True)


class WebhookDelivery(db.Model):
    """One attempt to send one event to one endpoint. ``pending`` until made (due at
    ``due_at``); then ``succeeded``, or ``failed`` with ``next_retry_at`` while a retry (the
    next attempt's row, pending) remains."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(
            "state IN ('pending', 'succeeded', 'failed')", name="ck_webhook_deliveries_state"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    # The audit event it carries (ids of the audit trail are plain numbers: it outlives rows).
    event_id: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    state: Mapped[str] = mapped_column(String(16), default=PENDING, server_default=PENDING)
    due_at: Mapped[datetime | None] = timestamp_column(nullable=True)
    attempted_at: Mapped[datetime | None] = timestamp_column(nullable=True)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # At most 1 KiB: what went wrong, with the start of the answer's body.
    error: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    next_retry_at: Mapped[datetime | None] = timestamp_column(nullable=True)
    created_at: Mapped[datetime] = timestamp_column()

    @property
    def next_attempt_at(self) -> datetime | None:
        """When this event is next tried: a failed attempt's retry, or this attempt while it is
        pending."""
        return self.due_at if self.state == PENDING else self.next_retry_at


class WebhookCursor(db.Model):
    """How far the audit trail has been read for webhooks (one row)."""

    __tablename__ = "webhook_cursor"
    __table_args__ = (CheckConstraint("id = 1", name="ck_webhook_cursor_one_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, default=1)
    transaction_id: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[int] = mapped_column(BigInteger)


Index("ix_webhook_deliveries_endpoint", WebhookDelivery.endpoint_id, WebhookDelivery.id)
# The attempts due, per endpoint (the worker's question every second).
Index(
    "ix_webhook_deliveries_due",
    WebhookDelivery.endpoint_id,
    WebhookDelivery.due_at,
    postgresql_where=WebhookDelivery.state == PENDING,
)
