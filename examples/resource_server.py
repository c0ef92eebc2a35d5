"""A service of your own that trusts Gatehouse's access tokens without sharing a secret.

It knows one thing, Gatehouse's address: from the discovery document it learns the issuer and
where the public keys are, and PyJWT's ``PyJWKClient`` fetches and caches them (it fetches again
when a token names a key it has not seen, so a rotation needs nothing here). A token is accepted
when its signature verifies with the key its ``kid`` names, with that key's algorithm, and its
issuer, audience and expiry are right.

What it cannot know alone: that the token's session ended a moment ago (a logout, a password
change). Gatehouse refuses such a token on its very next request; a service that must too asks
Gatehouse (``GET /users/me`` with the token) instead of verifying locally.

A token scoped to an organization (``POST /refresh {"organization_id": ...}``) also carries
``org_id`` and ``org_roles``: the caller's organization and their roles there when the token was
minted. They are a snapshot, good for choosing what to show; for a decision that must be
current (the member may have been removed since), ask ``POST /authz/check``.

    GATEHOUSE_URL=http://127.0.0.1:5000 flask --app examples/resource_server.py run --port 5001
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:5001/whoami
"""

import json
import os
import urllib.request

import jwt
from flask import Flask, request


def discover(gatehouse_url: str) -> dict:
    with urllib.request.urlopen(gatehouse_url + "/.well-known/openid-configuration") as answer:  # noqa: S310
        return json.load(answer)


def create_app(gatehouse_url: str | None = None, keys_lifespan: int = 300) -> Flask:
    """The service, verifying tokens of the Gatehouse at ``gatehouse_url`` (or GATEHOUSE_URL);
    the public keys are kept ``keys_lifespan`` seconds between fetches (JWKS_LIFESPAN)."""
    gatehouse_url = (gatehouse_url or os.environ["GATEHOUSE_URL"]).rstrip("/")
    keys_lifespan = int(os.environ.get("JWKS_LIFESPAN", keys_lifespan))
    provider = discover(gatehouse_url)
    audience = os.environ.get("EXPECTED_AUDIENCE", provider["issuer"])
    keys = jwt.PyJWKClient(provider["jwks_uri"], lifespan=keys_lifespan)
    app = Flask(__name__)

    def refuse(reason: str):
        return {"error": "invalid_token", "message": reason}, 401

    @app.get("/whoami")
    def whoami():
        """Who the bearer token says the caller is."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return refuse("Send Authorization: Bearer <access token>.")
        token = header.removeprefix("Bearer ")
        try:
            key = keys.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=provider["id_token_signing_alg_values_supported"],
                audience=audience,
                issuer=provider["issuer"],
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWKClientError as error:
            return refuse(f"No published key verifies it: {error}")
        except jwt.InvalidTokenError as error:
            return refuse(f"The token is not valid: {error}")
        caller = {"user_id": claims["sub"], "roles": claims["rls"].split(",")}
        if "org_id" in claims:
            caller["organization"] = {"id": claims["org_id"], "roles": claims["org_roles"]}
        return caller

    return app
