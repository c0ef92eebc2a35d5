"""Sending attempts: a delivery job holds one endpoint's lease and sends its due attempts one
after the other (an endpoint that hangs holds one job, never the worker), each signed anew
(``webhook-id`` the event's, the same on every retry) and sent to the URL the endpoint has at
that moment.

An attempt answered 2xx succeeded. Any other answer, or none within ``WEBHOOK_TIMEOUT``, failed:
the next attempt is due after the Standard Webhooks schedule (``RETRY_AFTER``: 5 s, 5 min,
30 min, 2 h, 5 h, 10 h, 10 h after the previous attempt), eight attempts in all over about a day,
then it stays failed. An answer 410 (Gone) disables the endpoint at once; an endpoint whose
attempts have failed without a success for ``WEBHOOK_DISABLE_AFTER`` (5 days) is disabled too,
and either way the admins are e-mailed. Delivery is at least once: a job that dies before
recording an attempt leaves it pending, and it is sent again once the lease has lapsed.
"""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select, update

from app.audit import record_event
from app.events import sending, signing
from app.events.catalog import body_of, event_id
from app.events.dispatch import LEASE
from app.events.endpoints import disable, origin_of
from app.extensions import db
from app.models import AuditEvent
from app.models.columns import utcnow
from app.models.webhook import FAILED, PENDING, SUCCEEDED, WebhookDelivery, WebhookEndpoint
from app.notices import tell_admins

RETRY_AFTER = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
# Seconds a job sends for before it lets the endpoint go (the next tick leases it again).
JOB_BUDGET = 30


@dataclass(frozen=True)
class Attempt:
    """What one attempt sends, and where: read in a transaction, sent outside any."""

    delivery_id: int
    endpoint_id: int
    number: int
    event_id: int
    url: str
    body: str | None
    secrets: list[str]


def renewed(endpoint_id: int, lease: str) -> WebhookEndpoint | None:
    """The endpoint, its lease renewed, while this lease is still its and it is enabled."""
    endpoint = db.session.scalars(
        select(WebhookEndpoint)
        .where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.lease == lease,
            WebhookEndpoint.enabled,
        )
        .with_for_update()
    ).first()
    if endpoint is not None:
        endpoint.leased_until = utcnow() + LEASE
    return endpoint


def next_attempt(endpoint_id: int, lease: str) -> Attempt | None:
    """The endpoint's next due attempt (None: none is due, or the lease was lost)."""
    endpoint = renewed(endpoint_id, lease)
    if endpoint is None:
        return None
    now = utcnow()
    delivery = db.session.scalars(
        select(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.state == PENDING,
            WebhookDelivery.due_at <= now,
        )
        .order_by(WebhookDelivery.due_at, WebhookDelivery.id)
        .limit(1)
    ).first()
    if delivery is None:
        return None
    event = db.session.get(AuditEvent, delivery.event_id)
    secrets = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_until > now:
        secrets.append(endpoint.previous_secret)
    return Attempt(
        delivery_id=delivery.id,
        endpoint_id=endpoint_id,
        number=delivery.attempt,
        event_id=delivery.event_id,
        url=endpoint.url,
        body=None if event is None else body_of(event, delivery.event_type),
        secrets=secrets,
    )


def send(attempt: Attempt, at: datetime) -> sending.Outcome:
    """Make the attempt at ``at`` (no transaction is open meanwhile)."""
    if attempt.body is None:
        return sending.Outcome(None, b"", "The event no longer exists.", 0)
    config = current_app.config
    message_id = event_id(attempt.event_id)
    return sending.post(
        attempt.url,
        attempt.body.encode(),
        signing.headers(message_id, attempt.body, at, attempt.secrets),
        allowed_origins=config["WEBHOOK_ALLOWED_ORIGINS"],
        seconds=config["WEBHOOK_TIMEOUT"],
    )


def error_text(outcome: sending.Outcome) -> str | None:
    """What is kept of a failure: why, and the start of the answer (1 KiB in all)."""
    if outcome.error is None:
        return None
    excerpt = outcome.body.decode("utf-8", errors="replace")
    return (outcome.error + (f": {excerpt}" if excerpt else ""))[: sending.KEPT_AT_MOST]


def record(attempt: Attempt, at: datetime, outcome: sending.Outcome) -> None:
    """Write what the attempt got; plan the retry, or disable the endpoint."""
    delivery = db.session.get(WebhookDelivery, attempt.delivery_id, with_for_update=True)
    endpoint = db.session.get(WebhookEndpoint, attempt.endpoint_id)
    if delivery is None or endpoint is None:
        return  # deleted meanwhile, with its attempts
    delivery.attempted_at = at
    delivery.due_at = None
    delivery.status_code = outcome.status_code
    delivery.duration_ms = outcome.duration_ms
    delivery.error = error_text(outcome)
    if outcome.error is None:
        delivery.state = SUCCEEDED
        endpoint.failing_since = None
        return
    delivery.state = FAILED
    db.session.flush()
    if not endpoint.enabled:
        return
    endpoint.failing_since = endpoint.failing_since or at
    failing_for = at - endpoint.failing_since
    if outcome.status_code == 410:
        disabled(endpoint, "The endpoint answered 410 Gone: it asked not to be sent more.")
    elif failing_for >= timedelta(seconds=current_app.config["WEBHOOK_DISABLE_AFTER"]):
        days = failing_for.total_seconds() / 86400
        disabled(endpoint, f"Every attempt failed for {days:.1f} days.")
    elif attempt.number <= len(RETRY_AFTER):
        retry_at = at + RETRY_AFTER[attempt.number - 1]
        delivery.next_retry_at = retry_at
        db.session.add(
            WebhookDelivery(
                endpoint_id=endpoint.id,
                event_id=delivery.event_id,
                event_type=delivery.event_type,
                attempt=attempt.number + 1,
                state=PENDING,
                due_at=retry_at,
            )
        )


def disabled(endpoint: WebhookEndpoint, reason: str) -> None:
    """Disable ``endpoint`` (its pending attempts cancelled), audit it, tell the admins."""
    disable(endpoint, reason)
    record_event(
        "webhook.disabled", None, {"webhook": [endpoint.id, endpoint.id], "reason": [None, reason]}
    )
    tell_admins(
        "A webhook endpoint was disabled",
        f"Gatehouse stopped sending events to webhook endpoint {endpoint.id} "
        f"({origin_of(endpoint.url)}): {reason}\n\nIts deliveries are listed at "
        f"GET /webhooks/{endpoint.id}/deliveries; enable it again with "
        f'PATCH /webhooks/{endpoint.id} {{"enabled": true}} once it works.',
    )


def release(endpoint_id: int, lease: str) -> None:
    db.session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.lease == lease)
        .values(lease=None, leased_until=None)
        .execution_options(synchronize_session=False)
    )


def deliver(endpoint_id: int, lease: str) -> int:
    """Send the endpoint's due attempts while this job holds its lease (for at most
    ``JOB_BUDGET`` seconds); how many were made."""
    started = time.monotonic()
    made = 0
    attempt = next_attempt(endpoint_id, lease)
    db.session.commit()
    while attempt is not None:
        at = utcnow()
        outcome = send(attempt, at)
        record(attempt, at, outcome)
        made += 1
        within_budget = time.monotonic() - started < JOB_BUDGET
        attempt = next_attempt(endpoint_id, lease) if within_budget else None
        db.session.commit()
    release(endpoint_id, lease)
    db.session.commit()
    return made


def prune(older_than: timedelta) -> int:
    """Delete the attempts made more than ``older_than`` ago (pending ones stay); how many."""
    result = db.session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.state != PENDING,
            WebhookDelivery.attempted_at < utcnow() - older_than,
        )
    )
    db.session.commit()
    return result.rowcount
