"""Webhooks: endpoints that are sent account events, signed as the Standard Webhooks
specification says, and their deliveries; all for holders of ``webhooks:manage``
(``app.events`` says how events are found, sent and retried)."""

from flask import url_for
from flask.views import MethodView

from app.access.permissions import declare
from app.api.blueprint import Blueprint
from app.events import endpoints
from app.extensions import db
from app.models.webhook import WebhookDelivery, WebhookEndpoint
from app.pagination import Order, paginate
from app.schemas.common import ErrorSchema
from app.schemas.webhook import (
    DeliveryListArgsSchema,
    DeliveryPageSchema,
    DeliverySchema,
    WebhookCreateSchema,
    WebhookListArgsSchema,
    WebhookPageSchema,
    WebhookSchema,
    WebhookUpdateSchema,
    WebhookWithSecretSchema,
)

WEBHOOKS_MANAGE = declare(
    "webhooks:manage",
    "Create, change and delete webhook endpoints, see and retry their deliveries.",
)

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/webhooks",
    description="Webhooks: account events sent to your endpoints, signed (Standard Webhooks).",
    links={"webhooks": "webhooks.Webhooks"},
)

OLDEST_FIRST = Order((WebhookEndpoint.id,))
NEWEST_FIRST = Order((WebhookDelivery.id,), descending=True)
NO_SUCH_ENDPOINT = {"schema": ErrorSchema, "description": "not_found: no endpoint has that id."}
DISABLED = {"schema": ErrorSchema, "description": "conflict: the endpoint is disabled."}
SHOWN = tuple(WebhookSchema().fields)


@blp.route("")
class Webhooks(MethodView):
    @blp.auth_required(WEBHOOKS_MANAGE)
    @blp.list_arguments(WebhookListArgsSchema)
    @blp.response(200, WebhookPageSchema)
    def get(self, args):
        """List the webhook endpoints, the oldest first."""
        return paginate(endpoints.listing(), args, OLDEST_FIRST, WebhookSchema)

    @blp.auth_required(WEBHOOKS_MANAGE)
    @blp.arguments(WebhookCreateSchema)
    @blp.response(201, WebhookWithSecretSchema)
    def post(self, values):
        """Add an endpoint (at most 50); its signing secret is in this answer only."""
        endpoint, secret = endpoints.create(values["url"], values["events"], values["description"])
        db.session.commit()
        location = url_for("webhooks.WebhookById", endpoint_id=endpoint.id)
        return with_secret(endpoint, secret), 201, {"Location": location}


def with_secret(endpoint: WebhookEndpoint, secret: str) -> dict:
    """What the answers that create or rotate a secret show: the endpoint, and the secret."""
    return {**{name: getattr(endpoint, name) for name in SHOWN}, "secret": secret}


@blp.route("/<int:endpoint_id>")
class WebhookById(MethodView):
    @blp.auth_required(WEBHOOKS_MANAGE)
    @blp.alt_response(404, **NO_SUCH_ENDPOINT)
    @blp.response(200, WebhookSchema)
    def get(self, endpoint_id: int):
        """Show an endpoint."""
        return endpoints.endpoint_or_404(endpoint_id)

    @blp.auth_required(WEBHOOKS_MANAGE)
    @blp.alt_response(404, **NO_SUCH_ENDPOINT)
    @blp.arguments(WebhookUpdateSchema)
    @blp.response(200, WebhookSchema)
    def patch(self, changes, endpoint_id: int):
        """Change an endpoint's URL, events, description, or enable or disable it (which
        cancels its pending deliveries)."""
        endpoint = endpoints.change(endpoints.endpoint_or_404(endpoint_id), changes)
        db.session.commit()
        return endpoint

    @blp.auth_required(WEBHOOKS_MANAGE)
    @blp.alt_response(404, **NO_SUCH_ENDPOINT)
    @blp.response(204)
    def delete(self, endpoint_id: int):
        """Delete an endpoint; its pending deliveries are never sent."""
        endpoints.delete(endpoints.endpoint_or_404(endpoint_id))
        db.session.commit()


@blp.route("/<int:endpoint_id>/rotate-secret", methods=["POST"])
@blp.auth_required(WEBHOOKS_MANAGE, fresh=True)
@blp.alt_response(404, **NO_SUCH_ENDPOINT)
@blp.response(200, WebhookWithSecretSchema)
def rotate_secret(endpoint_id: int):
    """Give an endpoint a new secret (in this answer only); the old one keeps signing beside it
    for 24 hours."""
    endpoint = endpoints.endpoint_or_404(endpoint_id)
    secret = endpoints.rotate_secret(endpoint)
    db.session.commit()
    return with_secret(endpoint, secret)


@blp.route("/<int:endpoint_id>/test", methods=["POST"])
@blp.auth_required(WEBHOOKS_MANAGE)
@blp.alt_response(404, **NO_SUCH_ENDPOINT)
@blp.alt_response(409, **DISABLED)
@blp.response(202, WebhookSchema)
def send_test(endpoint_id: int):
    """Send a webhook.test event to this endpoint (the worker sends it within seconds)."""
    endpoint = endpoints.endpoint_or_404(endpoint_id)
    endpoints.send_test(endpoint)
    db.session.commit()
    return endpoint


@blp.route("/<int:endpoint_id>/deliveries")
@blp.auth_required(WEBHOOKS_MANAGE)
@blp.alt_response(404, **NO_SUCH_ENDPOINT)
@blp.list_arguments(DeliveryListArgsSchema)
@blp.response(200, DeliveryPageSchema)
def list_deliveries(args, endpoint_id: int):
    """List an endpoint's delivery attempts, the newest first."""
    endpoint = endpoints.endpoint_or_404(endpoint_id)
    return paginate(endpoints.deliveries_of(endpoint), args, NEWEST_FIRST, DeliverySchema)


@blp.route("/<int:endpoint_id>/deliveries/<int:delivery_id>/retry", methods=["POST"])
@blp.auth_required(WEBHOOKS_MANAGE)
@blp.alt_response(
    404, schema=ErrorSchema, description="not_found: no such endpoint, or delivery of it."
)
@blp.alt_response(409, **DISABLED)
@blp.response(202, DeliverySchema)
def retry_delivery(endpoint_id: int, delivery_id: int):
    """Send a delivery's event to the endpoint again now, with the same webhook-id: the new
    attempt, pending."""
    endpoint = endpoints.endpoint_or_404(endpoint_id)
    attempt = endpoints.retry(endpoint, endpoints.delivery_of(endpoint, delivery_id))
    db.session.commit()
    return attempt
