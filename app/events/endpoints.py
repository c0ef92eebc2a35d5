"""Webhook endpoints, managed by holders of ``webhooks:manage``.

- An endpoint is ``{id, url, events, description, enabled, created_at, disabled_reason}``; its
  secret is shown in the answers that create or rotate it, and kept sealed. At most
  ``MAX_ENDPOINTS``; a URL the guard refuses (``app.events.destination``) or an event type not
  in the catalog is a 422 naming the field.
- A rotation keeps the previous secret signing beside the new one for ``ROTATION_OVERLAP``.
- Disabling an endpoint (or deleting it) cancels its pending attempts; events that happen while
  it is disabled are never sent to it (enabling it again starts from the events after).
- ``POST .../test`` writes a ``webhook.test`` event for that endpoint alone, sent like any other.
- Every change is audited (``webhook.created``, ``.updated``, ``.deleted``,
  ``.secret_rotated``), naming the endpoint by id and its URL by origin only (a URL's path or
  query may hold a credential of the receiver's).
"""

from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select, text, update

from app.audit import record_event
from app.errors import ApiError
from app.events import destination, signing
from app.events.catalog import TEST
from app.extensions import db
from app.models.columns import utcnow
from app.models.webhook import (
    CURRENT_TRANSACTION,
    FAILED,
    PENDING,
    WebhookDelivery,
    WebhookEndpoint,
)

MAX_ENDPOINTS = 50
ROTATION_OVERLAP = timedelta(hours=24)
CANCELLED = "Cancelled: the endpoint was disabled."


def origin_of(url: str) -> str:
    return destination.target_of(url).origin


def refuse_bad_url(url: str) -> None:
    problems = destination.url_problems(url, current_app.config["WEBHOOK_ALLOWED_ORIGINS"])
    if problems:
        raise ApiError(422, "validation_error", details={"url": problems})


def endpoint_or_404(endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise ApiError(404, "not_found", "No webhook endpoint has that id.")
    return endpoint


def listing():
    """SQL: every endpoint (for its list)."""
    return select(WebhookEndpoint)


def create(url: str, events: list[str], description: str) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (shown once)."""
    refuse_bad_url(url)
    # One creation at a time: two at once cannot both be the 50th.
    db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('webhook_endpoints'))"))
    if db.session.scalar(select(func.count()).select_from(WebhookEndpoint)) >= MAX_ENDPOINTS:
        raise ApiError(
            422,
            "validation_error",
            f"At most {MAX_ENDPOINTS} webhook endpoints: delete one you no longer use.",
            {"url": [f"At most {MAX_ENDPOINTS} webhook endpoints."]},
        )
    secret, sealed = signing.new_secret()
    endpoint = WebhookEndpoint(
        url=url, events=sorted(set(events)), description=description, secret=sealed
    )
    db.session.add(endpoint)
    db.session.flush()
    record_event(
        "webhook.created",
        None,
        {
            "webhook": [None, endpoint.id],
            "origin": [None, origin_of(url)],
            "events": [None, endpoint.events],
        },
    )
    return endpoint, secret


def change(endpoint: WebhookEndpoint, changes: dict) -> WebhookEndpoint:
    """Change an endpoint's URL, events, description or state (a retry goes to the URL it has
    when it is made)."""
    before = view(endpoint)
    if "url" in changes and changes["url"] != endpoint.url:
        refuse_bad_url(changes["url"])
        endpoint.url = changes["url"]
    if "events" in changes:
        endpoint.events = sorted(set(changes["events"]))
    if "description" in changes:
        endpoint.description = changes["description"]
    if "enabled" in changes and changes["enabled"] != endpoint.enabled:
        if changes["enabled"]:
            endpoint.enabled = True
            endpoint.disabled_reason = None
            endpoint.failing_since = None
            endpoint.enabled_transaction = CURRENT_TRANSACTION
        else:
            disable(endpoint, "Disabled by an administrator.")
    db.session.flush()
    after = view(endpoint)
    differences = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    if differences:
        record_event("webhook.updated", None, {"webhook": [endpoint.id, endpoint.id]} | differences)
    return endpoint


def view(endpoint: WebhookEndpoint) -> dict:
    """What the audit trail says of an endpoint's state."""
    return {
        "origin": origin_of(endpoint.url),
        "events": list(endpoint.events),
        "enabled": endpoint.enabled,
        "description": endpoint.description,
    }


def disable(endpoint: WebhookEndpoint, reason: str) -> None:
    """Stop sending to ``endpoint``: its pending attempts are cancelled."""
    endpoint.enabled = False
    endpoint.disabled_reason = reason
    endpoint.lease = None
    endpoint.leased_until = None
    cancel_pending(endpoint.id)


def cancel_pending(endpoint_id: int) -> None:
    """The endpoint's attempts not yet made fail as cancelled; no retry remains."""
    db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.state == PENDING)
        .values(state=FAILED, error=CANCELLED, due_at=None, next_retry_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.state == FAILED,
            WebhookDelivery.next_retry_at.is_not(None),
        )
        .values(next_retry_at=None)
        .execution_options(synchronize_session=False)
    )


def delete(endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint, its attempts (pending ones included) with it."""
    record_event(
        "webhook.deleted",
        None,
        {"webhook": [endpoint.id, None], "origin": [origin_of(endpoint.url), None]},
    )
    db.session.delete(endpoint)


def rotate_secret(endpoint: WebhookEndpoint) -> str:
    """A new secret (shown once); the one it replaces signs beside it for a day."""
    secret, sealed = signing.new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = utcnow() + ROTATION_OVERLAP
    endpoint.secret = sealed
    record_event("webhook.secret_rotated", None, {"webhook": [endpoint.id, endpoint.id]})
    return secret


def send_test(endpoint: WebhookEndpoint) -> None:
    """A ``webhook.test`` event for this endpoint alone (sent by the worker)."""
    if not endpoint.enabled:
        raise ApiError(409, "conflict", "The endpoint is disabled: enable it first.")
    record_event(TEST, None, {"webhook": [None, endpoint.id]})


def deliveries_of(endpoint: WebhookEndpoint):
    """SQL: an endpoint's attempts (for their list)."""
    return select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)


def delivery_of(endpoint: WebhookEndpoint, delivery_id: int) -> WebhookDelivery:
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise ApiError(404, "not_found", "No delivery of this endpoint has that id.")
    return delivery


def retry(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send the delivery's event to the endpoint again, now (the same ``webhook-id``): a new
    pending attempt, or the one already pending."""
    if not endpoint.enabled:
        raise ApiError(409, "conflict", "The endpoint is disabled: enable it first.")
    attempts = select(WebhookDelivery).where(
        WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.event_id == delivery.event_id
    )
    pending = db.session.scalars(
        attempts.where(WebhookDelivery.state == PENDING).with_for_update()
    ).first()
    if pending is not None:
        pending.due_at = utcnow()
        return pending
    last = db.session.scalar(
        select(func.max(WebhookDelivery.attempt)).where(
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.event_id == delivery.event_id,
        )
    )
    again = WebhookDelivery(
        endpoint_id=endpoint.id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        attempt=last + 1,
        state=PENDING,
        due_at=utcnow(),
    )
    db.session.add(again)
    db.session.flush()
    return again
