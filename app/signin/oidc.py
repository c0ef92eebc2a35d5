"""The OpenID Connect protocol, as a client of the providers in ``OIDC_PROVIDERS`` (Authlib's
OAuth 2 client, joserfc for the ID token): the authorization code flow with PKCE (S256), state
and nonce.

- ``authorization_url``: the state, nonce and PKCE verifier are a ticket (PostgreSQL, 10
  minutes, single use); the ticket's secret is the state.
- ``proved_claims``: the code is exchanged with the verifier, and the ID token is verified with
  the provider's published keys (its issuer, our client id as audience, the nonce, its expiry);
  the claims we keep are checked (a subject of at most 255 characters, an e-mail address by our
  rule).

The ceremony around it (the browser binding, the callback, the exchange) is
``app.signin.provider``; the identities it proves, ``app.accounts.identities``. A provider that
cannot be reached is a 503, before anything is written.
"""

import secrets
import time
from dataclasses import dataclass

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from flask import current_app, url_for
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from app.errors import ApiError
from app.identity import email_or_none
from app.models import User
from app.tokens import tickets

MAX_SUBJECT_LENGTH = 255
HTTP_TIMEOUT = 5
DOCUMENTS_KEPT = 3600
ID_TOKEN_ALGORITHMS = ("RS256", "ES256", "EdDSA", "PS256")
# The documents and key sets of providers, by URL, with when they were fetched.
_documents: dict[str, tuple[float, dict]] = {}


@dataclass(frozen=True)
class Provider:
    name: str
    issuer: str
    client_id: str
    client_secret: str
    scopes: str = "openid email profile"


def configured() -> list[Provider]:
    return [
        Provider(
            name=entry["name"],
            issuer=entry["issuer"].rstrip("/"),
            client_id=entry["client_id"],
            client_secret=entry["client_secret"],
            scopes=entry.get("scopes") or Provider.scopes,
        )
        for entry in current_app.config["OIDC_PROVIDERS"]
    ]


def provider_named(name: str) -> Provider:
    for provider in configured():
        if provider.name == name:
            return provider
    raise ApiError(404, "not_found", "No provider has that name.")


def _unreachable(provider: Provider) -> ApiError:
    return ApiError(
        503, "service_unavailable", f"The provider {provider.name} cannot be reached: try later."
    )


def _fetch_json(provider: Provider, http, url: str):
    """The JSON ``http`` (requests, or a session of the user's tokens) gets from the provider at
    ``url``; 503 when the provider cannot be reached or answers anything else."""
    try:
        response = http.get(url, timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as error:
        raise _unreachable(provider) from error


def _document(provider: Provider, url: str, refresh: bool = False) -> dict:
    kept = _documents.get(url)
    if kept and not refresh and time.monotonic() - kept[0] < DOCUMENTS_KEPT:
        return kept[1]
    document = _fetch_json(provider, requests, url)
    _documents[url] = (time.monotonic(), document)
    return document


def metadata(provider: Provider) -> dict:
    """The provider's discovery document (kept an hour)."""
    document = _document(provider, f"{provider.issuer}/.well-known/openid-configuration")
    if document.get("issuer", "").rstrip("/") != provider.issuer:
        raise ApiError(503, "service_unavailable", "The provider's document names another issuer.")
    return document


def callback_url(provider: Provider) -> str:
    """The callback registered at the provider: from PUBLIC_BASE_URL, never the Host header."""
    path = url_for("providers.callback", provider=provider.name)
    return current_app.config["PUBLIC_BASE_URL"] + path


def _client(provider: Provider) -> OAuth2Session:
    return OAuth2Session(
        provider.client_id,
        provider.client_secret,
        scope=provider.scopes,
        redirect_uri=callback_url(provider),
        code_challenge_method="S256",
        default_timeout=HTTP_TIMEOUT,
    )


def allowed_redirect(redirect_uri: str | None) -> str:
    """The client URL to send the code back to: one of ``OIDC_REDIRECT_ALLOWLIST`` exactly
    (the first when none is asked for), else 422."""
    allowlist = current_app.config["OIDC_REDIRECT_ALLOWLIST"]
    if redirect_uri is None:
        return allowlist[0]
    if redirect_uri not in allowlist:
        raise ApiError(
            422,
            "validation_error",
            details={"redirect_uri": ["Not one of OIDC_REDIRECT_ALLOWLIST."]},
        )
    return redirect_uri


def authorization_url(
    provider: Provider,
    redirect_uri: str,
    link_to: User | None = None,
    binding: str | None = None,
) -> str:
    """Where to send the person's browser: the provider's authorization endpoint with PKCE, a
    state and a nonce. With ``link_to``, the identity will be linked to that account (the
    session that asked confirms it); else it is a sign-in, bound to the digest ``binding``."""
    endpoint = metadata(provider)["authorization_endpoint"]
    verifier, nonce = generate_token(64), secrets.token_urlsafe(32)
    state = tickets.provider_state(provider.name, redirect_uri, verifier, nonce, link_to, binding)
    url, _ = _client(provider).create_authorization_url(
        endpoint, state=state, nonce=nonce, code_verifier=verifier
    )
    return url


def verified_claims(provider: Provider, id_token: str, nonce: str) -> dict:
    """The claims of an ID token signed by one of the provider's published keys, issued by it,
    for our client, with our nonce, not expired; else 401 ``invalid_token``."""
    document = metadata(provider)
    refusal = ApiError(401, "invalid_token", "The provider's ID token does not verify.")
    for refresh in (False, True):
        keys = KeySet.import_key_set(_document(provider, document["jwks_uri"], refresh=refresh))
        try:
            token = jwt.decode(id_token, keys, algorithms=list(ID_TOKEN_ALGORITHMS))
            break
        except JoseError as error:
            # A key the provider added since: its key set is read again, once.
            if refresh:
                raise refusal from error
    claims = token.claims
    registry = jwt.JWTClaimsRegistry(
        leeway=60,
        iss={"essential": True, "value": provider.issuer},
        sub={"essential": True},
        exp={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except JoseError as error:
        raise refusal from error
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if provider.client_id not in audiences or (
        len(audiences) > 1 and claims.get("azp") != provider.client_id
    ):
        raise refusal
    return claims


def proved_claims(provider: Provider, code: str, verifier: str, nonce: str) -> dict:
    """The identity the provider stands by: the code exchanged with the PKCE verifier, the ID
    token verified (with our nonce), the e-mail claims from userinfo when the ID token has
    none, and what we keep of them checked (``_keepable``). 401 for a code or ID token the
    provider does not stand by, 503 when it cannot be reached."""
    client = _client(provider)
    try:
        answer = client.fetch_token(
            metadata(provider)["token_endpoint"], code=code, code_verifier=verifier
        )
    except AuthlibBaseError as refused:
        raise ApiError(401, "invalid_token", "The provider refused the code.") from refused
    except requests.RequestException as down:
        raise _unreachable(provider) from down
    if "id_token" not in answer:
        raise ApiError(401, "invalid_token", "The provider gave no ID token.")
    claims = verified_claims(provider, answer["id_token"], nonce)
    if "email" not in claims:
        claims = {**claims, **_user_info(provider, client, claims["sub"])}
    return _keepable(claims)


def _keepable(claims: dict) -> dict:
    """The claims with what we keep of them checked: a subject of 1 to 255 characters (else 401:
    an identity we cannot store exactly is not one we can recognise again), and the e-mail
    address in our canonical form when it is one by our rule, else none."""
    subject = claims["sub"]
    if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT_LENGTH:
        raise ApiError(
            401,
            "invalid_token",
            f"The provider's subject identifier is not 1 to {MAX_SUBJECT_LENGTH} characters.",
        )
    if "\x00" in subject:
        raise ApiError(401, "invalid_token", "The provider's subject identifier holds a NUL.")
    return {**claims, "email": email_or_none(claims.get("email"))}


def _user_info(provider: Provider, client: OAuth2Session, subject: str) -> dict:
    """The e-mail claims of the provider's userinfo endpoint (where a conforming provider puts
    them rather than in the ID token), when it speaks of the same subject."""
    endpoint = metadata(provider).get("userinfo_endpoint")
    if not endpoint:
        return {}
    info = _fetch_json(provider, client, endpoint)
    if not isinstance(info, dict) or info.get("sub") != subject:
        return {}
    return {
        key: info[key] for key in ("email", "email_verified", "preferred_username") if key in info
    }
