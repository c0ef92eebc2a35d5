"""OpenAPI documentation shared by the resources, and the offline Swagger UI at /docs.

Swagger UI's assets come from the flask-swagger-ui package (installed with the app) and are
served by the app itself, so /docs works on a machine without internet.
"""

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, send_from_directory
from marshmallow import fields

from app.schemas.common import ErrorSchema

BEARER_SCHEME = "bearerAuth"
BEARER_SECURITY_SCHEME = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
SWAGGER_UI_ASSETS = Path(flask_swagger_ui.__file__).resolve().parent / "dist"
SWAGGER_UI_ASSETS_URL = "/docs/assets/"
DOCS_SCRIPT = Path(__file__).resolve().parent / "docs_static"
# What RequestSchema enforces, in the document: no NUL. (Unpaired surrogates are refused too, but
# JSON Schema patterns cannot say so portably: they cannot be written in valid UTF-8 JSON.)
STORABLE_STRING_PATTERN = "^[^\\u0000]*$"

assets = Blueprint("docs_assets", __name__)


@assets.route(SWAGGER_UI_ASSETS_URL + "<path:filename>")
def swagger_ui_asset(filename: str):
    """Swagger UI's scripts and styles (not part of the API, so not in the OpenAPI document)."""
    return send_from_directory(SWAGGER_UI_ASSETS, filename, max_age=24 * 3600)


@assets.route("/docs/docs.js")
def docs_script():
    """The script that starts Swagger UI on the docs page."""
    return send_from_directory(DOCS_SCRIPT, "docs.js", max_age=3600)


def strings_without_nul(converter, field, ret, **kwargs) -> dict:
    """apispec attribute function: say in the document what ``RequestSchema`` enforces, that no
    string may hold NUL (PostgreSQL cannot store it)."""
    if isinstance(field, fields.String) and "pattern" not in ret:
        return {"pattern": STORABLE_STRING_PATTERN}
    return {}


def query_args(blp, schema):
    """``@blp.arguments`` for query parameters, documenting the 400 a bad one gets."""

    def decorator(view):
        view = blp.alt_response(
            400, schema=ErrorSchema, description="A query parameter is invalid (bad_request)."
        )(view)
        return blp.arguments(schema, location="query")(view)

    return decorator
