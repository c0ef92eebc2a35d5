"""Reading the audit trail for webhooks: each event past the cursor whose action has a webhook
type becomes one pending attempt for every endpoint that wants it, and the cursor moves past it,
in one transaction (a worker that stops loses nothing and sends nothing twice).

Ids of a sequence are not given in commit order: an event with a smaller id may commit after
one with a larger id was read. So the trail is read in the order (transaction, id), and only as
far as the oldest transaction still running (PostgreSQL's snapshot ``xmin``): every transaction
before it has ended, so nothing can appear behind the cursor. A long transaction delays events
written after it began; it never loses one.

Then ``lease_due_endpoints`` hands each endpoint with attempts due to one delivery job
(``app.events.delivery``).
"""

import secrets
from datetime import timedelta

from sqlalchemy import exists, insert, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as upsert

from app.events.catalog import TEST, subscribed, type_of
from app.extensions import db
from app.models import AuditEvent
from app.models.columns import utcnow
from app.models.webhook import PENDING, WebhookCursor, WebhookDelivery, WebhookEndpoint

BATCH = 500
LEASE = timedelta(seconds=60)
OLDEST_RUNNING = text("SELECT (pg_snapshot_xmin(pg_current_snapshot()))::text::bigint")


def wants(endpoint: WebhookEndpoint, event, event_type: str) -> bool:
    """Whether ``endpoint`` is sent ``event``: it was enabled before the event's transaction
    (never an event of a time it was disabled), and subscribes to its type (a test event goes
    to the endpoint it was made for alone)."""
    if event.transaction_id <= endpoint.enabled_transaction:
        return False
    if event_type == TEST:
        return (event.changes.get("webhook") or [None, None])[1] == endpoint.id
    return subscribed(endpoint.events, event_type)


def locked_cursor() -> WebhookCursor | None:
    """The cursor, locked until the transaction ends (None while another worker has it)."""
    return db.session.scalars(select(WebhookCursor).with_for_update(skip_locked=True)).first()


def dispatch() -> int:
    """Read one batch of the trail past the cursor into attempts and commit; how many events
    were read (0: nothing more to read, or another worker is reading)."""
    # First, before this transaction holds an id: every transaction older than this has ended.
    horizon = db.session.scalar(OLDEST_RUNNING)
    cursor = locked_cursor()
    if cursor is None:
        # Not there (an emptied database), or another worker is reading.
        db.session.execute(
            upsert(WebhookCursor)
            .values(id=1, transaction_id=0, event_id=0)
            .on_conflict_do_nothing()
        )
        cursor = locked_cursor()
    if cursor is None:
        db.session.commit()
        return 0
    events = db.session.execute(
        select(AuditEvent.id, AuditEvent.transaction_id, AuditEvent.action, AuditEvent.changes)
        .where(
            tuple_(AuditEvent.transaction_id, AuditEvent.id)
            > tuple_(cursor.transaction_id, cursor.event_id),
            AuditEvent.transaction_id < horizon,
        )
        .order_by(AuditEvent.transaction_id, AuditEvent.id)
        .limit(BATCH)
    ).all()
    if events:
        endpoints = db.session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.enabled)).all()
        now = utcnow()
        attempts = [
            {
                "endpoint_id": endpoint.id,
                "event_id": event.id,
                "event_type": event_type,
                "attempt": 1,
                "state": PENDING,
                "due_at": now,
            }
            for event in events
            if (event_type := type_of(event.action)) is not None
            for endpoint in endpoints
            if wants(endpoint, event, event_type)
        ]
        if attempts:
            db.session.execute(insert(WebhookDelivery), attempts)
        cursor.transaction_id, cursor.event_id = events[-1].transaction_id, events[-1].id
    db.session.commit()
    return len(events)


def dispatch_all(rounds: int = 20) -> int:
    """Read the trail as far as it can be read now (at most ``rounds`` batches); how many
    events were read."""
    read = 0
    for _ in range(rounds):
        batch = dispatch()
        read += batch
        if batch < BATCH:
            break
    return read


def lease_due_endpoints(defer) -> list[int]:
    """Lease every enabled endpoint that has attempts due and no live lease to a new delivery
    job (``defer(endpoint_id=..., lease=...)``, in this transaction); the ids leased."""
    now = utcnow()
    token = secrets.token_hex(16)
    due = exists().where(
        WebhookDelivery.endpoint_id == WebhookEndpoint.id,
        WebhookDelivery.state == PENDING,
        WebhookDelivery.due_at <= now,
    )
    leased = db.session.scalars(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.enabled,
            (WebhookEndpoint.leased_until.is_(None)) | (WebhookEndpoint.leased_until < now),
            due,
        )
        .values(lease=token, leased_until=now + LEASE)
        .returning(WebhookEndpoint.id)
        .execution_options(synchronize_session=False)
    ).all()
    for endpoint_id in leased:
        defer(endpoint_id=endpoint_id, lease=token)
    db.session.commit()
    return list(leased)
