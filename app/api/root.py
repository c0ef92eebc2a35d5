"""The API's entry point and its health check."""

from flask import current_app, url_for
from marshmallow import Schema, fields
from sqlalchemy import text

from app.api.blueprint import Blueprint
from app.errors import ApiError
from app.extensions import db

blp = Blueprint(
    "root",
    __name__,
    url_prefix="/",
    description="Discovery and health.",
    links={
        "self": "root.index",
        "health": "root.health",
        "openapi": "api-docs.openapi_json",
        "docs": "api-docs.openapi_swagger_ui",
    },
)


class RootSchema(Schema):
    """Name, version and links to every top-level resource."""

    name = fields.String()
    version = fields.String()
    links = fields.Dict(keys=fields.String(), values=fields.String(), data_key="_links")


class HealthSchema(Schema):
    """Whether the API and its database answer."""

    status = fields.String(metadata={"example": "ok"})
    database = fields.String(metadata={"example": "ok"})


@blp.route("")
@blp.response(200, RootSchema)
def index():
    """Discover the API: its version and a link to every top-level resource."""
    return {
        "name": current_app.config["API_TITLE"],
        "version": current_app.config["API_VERSION"],
        "links": {
            name: url_for(endpoint)
            for blueprint in current_app.blueprints.values()
            for name, endpoint in getattr(blueprint, "links", {}).items()
        },
    }


@blp.route("health")
@blp.response(200, HealthSchema)
def health():
    """Report whether the API can reach its database (503 when it cannot)."""
    timeout_ms = int(current_app.config["HEALTH_TIMEOUT_MS"])
    try:
        # One string, so one transaction: the timeout holds for the SELECT, then lapses.
        db.session.execute(text(f"SET LOCAL statement_timeout = {timeout_ms}; SELECT 1"))
    except Exception as error:
        db.session.rollback()
        current_app.logger.warning("health check failed: %s", type(error).__name__)
        raise ApiError(503, "service_unavailable", details={"database": "unavailable"}) from None
    return {"status": "ok", "database": "ok"}
