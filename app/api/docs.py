"""OpenAPI documentation shared by the resources, and the offline Swagger UI at /docs.

Swagger UI's assets come from the flask-swagger-ui package (installed with the app) and are
served by the app itself, so /docs works on a machine without internet.
"""

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, send_from_directory
from marshmallow import fields

BEARER_SCHEME = "bearerAuth"
BEARER_SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT, or gh_pat_...",
    "description": "A session's access token (a JWT, from /login) or a personal access token "
    "(gh_pat_..., from POST /users/me/tokens). Each operation names the permission it needs in "
    "its security requirement (GET /permissions lists them; a personal token's scopes are "
    "permissions); session: held by a session's access token only (managing tokens, sessions, "
    "the password, MFA, passkeys, the e-mail address, and every fresh route).",
}
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


def one_of_response(description: str, *schemas: type) -> dict:
    """An OpenAPI 200 whose body is one of ``schemas`` (by their component names: the class
    name without "Schema", as the document names them)."""
    names = [schema.__name__.removesuffix("Schema") for schema in schemas]
    one_of = [{"$ref": f"#/components/schemas/{name}"} for name in names]
    return {
        "200": {
            "description": description,
            "content": {"application/json": {"schema": {"oneOf": one_of}}},
        }
    }
