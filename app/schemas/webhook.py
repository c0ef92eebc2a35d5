"""Webhook endpoints and their deliveries as the API shows them, and what creating or changing
an endpoint takes."""

from marshmallow import Schema, fields, validate

from app.events.catalog import SUBSCRIBABLE, event_id
from app.schemas.base import RequestSchema
from app.schemas.common import PaginationArgsSchema, UtcDateTime, page_schema
from app.schemas.fields import StrictBoolean

STATES = ("pending", "succeeded", "failed")


def url_field(**kwargs) -> fields.String:
    return fields.String(
        validate=validate.Length(min=1, max=2048),
        metadata={
            "description": "An https:// URL (http:// only for WEBHOOK_ALLOWED_ORIGINS, in "
            "development and tests), never to a loopback, private, link-local or metadata "
            "address: a literal one is refused here, a name's addresses at each delivery."
        },
        **kwargs,
    )


def events_field(**kwargs) -> fields.List:
    return fields.List(
        fields.String(validate=validate.OneOf(SUBSCRIBABLE, error="No such event type: {input}.")),
        validate=validate.Length(min=1, max=len(SUBSCRIBABLE)),
        metadata={
            "description": "The event types sent to it; a family's every type as "
            "<family>.* (role.*)."
        },
        **kwargs,
    )


def description_field(**kwargs) -> fields.String:
    return fields.String(validate=validate.Length(max=500), **kwargs)


class WebhookSchema(Schema):
    """A webhook endpoint (its secret is never shown again after creation or rotation)."""

    id = fields.Integer(dump_only=True)
    url = fields.String(dump_only=True)
    events = fields.List(fields.String(), dump_only=True)
    description = fields.String(dump_only=True)
    enabled = fields.Boolean(dump_only=True)
    created_at = UtcDateTime(dump_only=True)
    disabled_reason = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "Why it is disabled (an admin, a 410 answer, 5 days failing)."},
    )


class WebhookWithSecretSchema(WebhookSchema):
    """An endpoint just created, or whose secret was just rotated: ``secret`` shown this once."""

    secret = fields.String(
        dump_only=True,
        metadata={
            "description": "whsec_ and base64: verify each delivery's webhook-signature with "
            "it (Standard Webhooks). Shown this once: store it."
        },
    )


WebhookPageSchema = page_schema(WebhookSchema)


class WebhookListArgsSchema(PaginationArgsSchema):
    """Pages of endpoints, the oldest first."""


class WebhookCreateSchema(RequestSchema):
    """A new endpoint: where to send, which events, and a note to know it by."""

    url = url_field(required=True)
    events = events_field(required=True)
    description = description_field(load_default="")


class WebhookUpdateSchema(RequestSchema):
    """What may change of an endpoint (disabling cancels its pending deliveries)."""

    url = url_field()
    events = events_field()
    description = description_field()
    enabled = StrictBoolean()


class DeliverySchema(Schema):
    """One attempt to send one event: ``failed`` with ``next_retry_at`` while a retry
    remains (the next attempt, pending)."""

    id = fields.Integer(dump_only=True)
    event_id = fields.Function(
        lambda delivery: event_id(delivery.event_id),
        metadata={
            "type": "string",
            "description": "The event's id (its body's id, the webhook-id header).",
        },
    )
    event_type = fields.String(dump_only=True)
    attempt = fields.Integer(dump_only=True)
    status_code = fields.Integer(dump_only=True, allow_none=True)
    error = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "Why it failed, and the start of the answer (1 KiB at most)."},
    )
    duration_ms = fields.Integer(dump_only=True, allow_none=True)
    attempted_at = UtcDateTime(dump_only=True, allow_none=True)
    next_retry_at = UtcDateTime(
        attribute="next_attempt_at",
        dump_only=True,
        allow_none=True,
        metadata={"description": "When the next attempt is made (a pending one: when it is due)."},
    )
    state = fields.String(dump_only=True, metadata={"enum": list(STATES)})


DeliveryPageSchema = page_schema(DeliverySchema)


class DeliveryListArgsSchema(PaginationArgsSchema):
    """Pages of attempts, the newest first."""
