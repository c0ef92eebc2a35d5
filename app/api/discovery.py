"""Discovery for services that verify Gatehouse's access tokens: the public keys (a JWK Set)
and a minimal OpenID Provider configuration naming the issuer, the keys and the token endpoint.
With nothing but these two documents, a standard library (PyJWT's ``PyJWKClient``, authlib,
jose) verifies an access token (``examples/resource_server.py``)."""

from flask import current_app, url_for
from marshmallow import Schema, fields

from app.api.blueprint import Blueprint
from app.tokens.keys import PUBLISHED_MAX_AGE, published_keys

blp = Blueprint(
    "discovery",
    __name__,
    url_prefix="/.well-known",
    description="Keys and issuer discovery.",
    links={"jwks": "discovery.jwks", "openid_configuration": "discovery.openid_configuration"},
)

CACHEABLE = {"Cache-Control": f"public, max-age={PUBLISHED_MAX_AGE}"}


class JwkSetSchema(Schema):
    """RFC 7517: the public keys that verify live access tokens (the current one, the previous
    ones until their last token expires, a staged next one). Never a private part."""

    keys = fields.List(
        fields.Dict(),
        required=True,
        metadata={"description": "Public JWKs, each with kid, alg (EdDSA or ES256) and use sig."},
    )


class ProviderConfigurationSchema(Schema):
    """The issuer's discovery document (OpenID Connect Discovery 1.0, the members a verifier
    needs)."""

    issuer = fields.String(required=True, metadata={"description": "The iss of every token."})
    jwks_uri = fields.String(required=True)
    token_endpoint = fields.String(required=True)
    id_token_signing_alg_values_supported = fields.List(fields.String(), required=True)
    token_endpoint_auth_methods_supported = fields.List(fields.String())
    subject_types_supported = fields.List(fields.String())
    response_types_supported = fields.List(fields.String())
    grant_types_supported = fields.List(fields.String())
    audience = fields.String(metadata={"description": "The aud of every access token."})


@blp.route("/jwks.json")
@blp.response(200, JwkSetSchema)
def jwks():
    """The public keys that verify access tokens (cacheable for five minutes)."""
    return published_keys(), 200, CACHEABLE


@blp.route("/openid-configuration")
@blp.response(200, ProviderConfigurationSchema)
def openid_configuration():
    """Where a verifying service finds the issuer, the keys and the token endpoint."""
    config = current_app.config
    base = config["PUBLIC_BASE_URL"]
    algorithms = sorted({key["alg"] for key in published_keys()["keys"]})
    return (
        {
            "issuer": config["JWT_ISSUER"],
            "jwks_uri": base + url_for("discovery.jwks"),
            "token_endpoint": base + url_for("auth.login"),
            "id_token_signing_alg_values_supported": algorithms,
            "token_endpoint_auth_methods_supported": ["none"],
            "subject_types_supported": ["public"],
            "response_types_supported": ["token"],
            "grant_types_supported": ["password", "refresh_token"],
            "audience": config["JWT_AUDIENCE"],
        },
        200,
        CACHEABLE,
    )
