"""Signing in through an OpenID Connect provider (Authlib's OAuth 2 client, joserfc for the ID
token): the authorization code flow with PKCE (S256), state and nonce.

1. ``authorization_url``: the state, nonce and PKCE verifier are a ticket (PostgreSQL, 10
   minutes, single use: never the cookie session); the ticket's secret is the state.
2. ``finish`` (the provider's redirect to the callback): the state is used up, the code is
   exchanged with the verifier, and the ID token is verified with the provider's published keys
   (its issuer, our client id as audience, the nonce, its expiry). Then the identity (issuer,
   ``sub``) finds its account, or is linked to the signed-in account that started the flow, or
   makes a new account. An e-mail address the provider gives never links an identity to an
   existing account by itself, verified or not: the account's holder signs in and links it
   (``POST /users/me/identities/<provider>``).
3. An API client gets no token in a URL: the callback sends it back to an allow-listed client
   URL with a single-use code (60 seconds), exchanged at ``POST /login/oidc/exchange``. A link
   comes back as a ``link_code`` that the session which asked for the link confirms
   (``confirm_link``).

A provider that cannot be reached is a 503, before anything is written.
"""

import hmac
import re
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
from sqlalchemy import func, select

from app.audit import record_event
from app.auth.notices import send_security_notice
from app.errors import ApiError
from app.extensions import db, guard
from app.identity import email_or_none
from app.models import Identity, Passkey, User
from app.tokens import tickets
from app.tokens.opaque import digest, new_secret
from app.tokens.transport import browser_binding

STATE_LIFESPAN = 600
MAX_SUBJECT_LENGTH = 255
EXCHANGE_LIFESPAN = 60
HTTP_TIMEOUT = 5
DOCUMENTS_KEPT = 3600
ID_TOKEN_ALGORITHMS = ("RS256", "ES256", "EdDSA", "PS256")
USERNAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_.-]+")
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


def start_sign_in(provider: Provider, redirect_uri: str) -> tuple[str, str]:
    """A sign-in: where to send the person's browser, and the secret that binds the sign-in
    to that browser (the view sets it as a cookie: ``app.tokens.transport``). The callback and
    the exchange are refused without it, so nobody can have another person's browser finish
    a sign-in they started (and sign that person in to their account: login CSRF)."""
    binding = new_secret()
    return authorization_url(provider, redirect_uri, binding=digest(binding)), binding


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
    state = tickets.issue(
        tickets.OIDC_STATE,
        STATE_LIFESPAN,
        link_to,
        provider=provider.name,
        verifier=verifier,
        nonce=nonce,
        redirect_uri=redirect_uri,
        binding=binding,
    )
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


def finish(
    provider_name: str, state: str | None, code: str | None, error: str | None
) -> tuple[str, dict[str, str]]:
    """The callback: the client URL to send the browser back to, and what to tell it: a code
    to exchange for the sign-in's tokens, or for a link a code its session confirms with.
    400 for an unknown, used or expired state or another provider's, 401 for a code or ID
    token the provider does not stand by, 503 when it cannot be reached."""
    ticket = tickets.redeem(tickets.OIDC_STATE, state) if state else None
    if ticket is None or ticket.data.get("provider") != provider_name:
        raise ApiError(400, "bad_request", "Unknown, used or expired state: start again.")
    if ticket.user_id is None:
        refuse_other_browser(ticket)
    provider = provider_named(provider_name)
    if error or not code:
        raise ApiError(401, "invalid_credentials", f"The provider refused: {error or 'no code'}.")
    client = _client(provider)
    try:
        answer = client.fetch_token(
            metadata(provider)["token_endpoint"],
            code=code,
            code_verifier=ticket.data["verifier"],
        )
    except AuthlibBaseError as refused:
        raise ApiError(401, "invalid_token", "The provider refused the code.") from refused
    except requests.RequestException as down:
        raise _unreachable(provider) from down
    if "id_token" not in answer:
        raise ApiError(401, "invalid_token", "The provider gave no ID token.")
    claims = verified_claims(provider, answer["id_token"], ticket.data["nonce"])
    if "email" not in claims:
        claims = {**claims, **_user_info(provider, client, claims["sub"])}
    claims = _keepable(claims)
    if ticket.user_id is not None:
        link_code = _link_code(provider, claims, ticket.user_id)
        return ticket.data["redirect_uri"], {"link_code": link_code, "provider": provider.name}
    user = account_for(provider, claims)
    code = tickets.issue(
        tickets.OIDC_EXCHANGE, EXCHANGE_LIFESPAN, user, binding=ticket.data["binding"]
    )
    return ticket.data["redirect_uri"], {"code": code}


def refuse_other_browser(ticket) -> None:
    """403 unless the request comes from the browser a sign-in's ticket is bound to (its
    cookie's digest is the ticket's ``binding``)."""
    presented = browser_binding()
    expected = ticket.data.get("binding")
    if presented and expected and hmac.compare_digest(digest(presented), expected):
        return
    raise ApiError(
        403,
        "forbidden",
        "This sign-in was started in another browser (or its cookie expired): start it again "
        "from this one.",
    )


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


def _identity(issuer: str, subject: str) -> Identity | None:
    return db.session.scalar(
        select(Identity).where(Identity.issuer == issuer, Identity.subject == subject)
    )


def _link_code(provider: Provider, claims: dict, user_id: int) -> str:
    """A link proved at the provider, as a single-use code that only the session of the
    account that asked for it can confirm: the browser that finished it may be anyone's (a
    stranger who sent you his link's address would otherwise get your identity linked to his
    account)."""
    identity = _identity(provider.issuer, claims["sub"])
    if identity is not None and identity.user_id != user_id:
        raise ApiError(409, "conflict", "This identity is linked to another account.")
    return tickets.issue(
        tickets.OIDC_LINK,
        EXCHANGE_LIFESPAN,
        db.session.get(User, user_id),
        provider=provider.name,
        sub=claims["sub"],
        email=claims["email"],
    )


def confirm_link(user: User, provider: Provider, link_code: str) -> Identity:
    """``POST /users/me/identities/<provider>/confirm``: the link ``user``'s session asked for
    and the provider proved; 401 for an unknown, used or expired code, 403 for another
    account's, 409 for an identity another account has."""
    ticket = tickets.redeem(tickets.OIDC_LINK, link_code, user)
    if ticket is None and tickets.read(tickets.OIDC_LINK, link_code) is not None:
        # Another account's link: refused, and left for that account to confirm.
        raise ApiError(
            403, "forbidden", "Another account started this link: start it again from yours."
        )
    if ticket is None or ticket.data.get("provider") != provider.name:
        raise ApiError(401, "invalid_token", "The link code is unknown, expired or used.")
    claims = {"sub": ticket.data["sub"], "email": ticket.data.get("email")}
    identity = _identity(provider.issuer, claims["sub"])
    if identity is not None:
        if identity.user_id != user.user_id:
            raise ApiError(409, "conflict", "This identity is linked to another account.")
        return identity
    identity = _link(user, provider, claims)
    send_security_notice(
        user,
        f"{provider.name} can now sign in to your account",
        f"An account at {provider.name}"
        + (f" ({identity.email})" if identity.email else "")
        + " was linked to yours and can sign in to it. If this was not you, unlink it from "
        "your account page and reset your password (the reset removes recently added ways in).",
    )
    return identity


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


def account_for(provider: Provider, claims: dict) -> User:
    """The account an identity signs in to, made for it when it is new and its e-mail address
    is nobody's."""
    identity = _identity(provider.issuer, claims["sub"])
    if identity is not None:
        return db.session.get(User, identity.user_id)
    email = claims["email"]
    verified = claims.get("email_verified") is True
    if email is None:
        raise ApiError(403, "forbidden", "The provider gave no usable e-mail address.")
    if User.taken_fields(None, email):
        # Equal addresses never link by themselves, even verified ones: its holder signs in to
        # the account and links the provider from there.
        raise ApiError(
            409,
            "conflict",
            "An account already uses this e-mail address. Sign in to it (password or passkey), "
            f"then link {provider.name} from your session: POST /users/me/identities/"
            f"{provider.name}.",
        )
    config = current_app.config
    if not config["REGISTRATION_ENABLED"]:
        raise ApiError(403, "forbidden", "New accounts are not open: ask an administrator.")
    if config["EMAIL_CONFIRMATION"] and not verified:
        raise ApiError(
            403, "forbidden", "The provider has not verified this e-mail address: register."
        )
    user = User(
        username=_free_username(claims, email),
        email=email,
        password=guard.hash_password(new_secret()),
        password_set=False,
        roles="user",
    )
    db.session.add(user)
    db.session.flush()
    _link(user, provider, claims)
    return user


def _link(user: User, provider: Provider, claims: dict) -> Identity:
    identity = Identity(
        user_id=user.user_id,
        provider=provider.name,
        issuer=provider.issuer,
        subject=claims["sub"],
        email=claims["email"],
    )
    db.session.add(identity)
    db.session.flush()
    record_event("identity.linked", user.user_id, {"identity": [None, provider.name]})
    return identity


def _free_username(claims: dict, email: str) -> str:
    """A username from the provider's (or the address's local part), made valid and unused."""
    wanted = claims.get("preferred_username")
    base = wanted if isinstance(wanted, str) and wanted else email.split("@")[0]
    base = USERNAME_CHARACTERS.sub("", base)[:56] or "user"
    base = base if len(base) >= 3 else f"{base}-user"
    candidate = base
    for number in range(2, 1000):
        if not User.taken_fields(candidate, None):
            return candidate
        candidate = f"{base}{number}"
    return f"{base}-{secrets.token_hex(4)}"


def redeem_exchange(code: str) -> User:
    """The account a sign-in's exchange code signs in to, from the browser that started it
    (403 from any other: the code is used up either way)."""
    ticket = tickets.redeem(tickets.OIDC_EXCHANGE, code)
    user = db.session.get(User, ticket.user_id) if ticket is not None else None
    if user is None:
        raise ApiError(401, "invalid_token", "The code is unknown, expired or used.")
    refuse_other_browser(ticket)
    return user


def of_user(user: User):
    return select(Identity).where(Identity.user_id == user.user_id)


def remove(user: User, identity_id: int) -> None:
    """Unlink one of ``user``'s identities, unless it is the last way in (no password set, no
    passkey, no other identity): 409."""
    identity = db.session.get(Identity, identity_id)
    if identity is None or identity.user_id != user.user_id:
        raise ApiError(404, "not_found", "You have no identity with that id.")
    others = db.session.scalar(
        select(func.count()).where(Identity.user_id == user.user_id, Identity.id != identity.id)
    )
    passkeys = db.session.scalar(select(func.count()).where(Passkey.user_id == user.user_id))
    if not (user.password_set or passkeys or others):
        raise ApiError(
            409,
            "conflict",
            "This is your only way in: set a password (POST /password/forgot) or add a passkey "
            "first.",
        )
    db.session.delete(identity)
    record_event("identity.removed", user.user_id, {"identity": [identity.provider, None]})
    send_security_notice(
        user,
        f"{identity.provider} no longer signs in to your account",
        f"The account at {identity.provider} linked to yours was unlinked. If this was not you, "
        "reset your password.",
    )
