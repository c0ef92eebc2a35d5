"""Signing in through an OpenID Connect provider, and the identities an account has at them.
How the flow is checked is ``app.signin.oidc``."""

from urllib.parse import urlencode

from flask import redirect, url_for
from flask.views import MethodView
from werkzeug.routing import BaseConverter

from app.access.permissions import SESSION
from app.accounts import identities
from app.api.blueprint import Blueprint
from app.config import PROVIDER_NAME, RESERVED_PROVIDER_NAMES
from app.database import writes_on_get
from app.extensions import db
from app.guard import current_user
from app.models import Identity
from app.pagination import Order, paginate
from app.schemas.auth import LoginAnswerSchema
from app.schemas.common import ErrorSchema
from app.schemas.identity import (
    CallbackArgsSchema,
    ExchangeSchema,
    IdentityListArgsSchema,
    IdentityPageSchema,
    IdentitySchema,
    LinkAnswerSchema,
    LinkConfirmSchema,
    LinkSchema,
    ProviderPageSchema,
    ProviderStartArgsSchema,
)
from app.signin import oidc
from app.signin import provider as sign_in
from app.tokens import tickets
from app.tokens.transport import bind_to_browser, respond_with_tokens


class ProviderName(BaseConverter):
    """A provider's name in a path (``app.config.PROVIDER_NAME``): it starts with a letter, so
    ``/users/me/identities/<id>`` (a number) is never read as one, and is never a reserved word,
    so ``GET /login/oidc/exchange`` is not a sign-in with a provider called "exchange" (405)."""

    regex = (
        "".join(f"(?!{word}(?:/|$))" for word in RESERVED_PROVIDER_NAMES) + PROVIDER_NAME.pattern
    )


def provider_name_schema(converter) -> dict:
    return {
        "type": "string",
        "pattern": f"^{PROVIDER_NAME.pattern}$",
        "not": {"enum": list(RESERVED_PROVIDER_NAMES)},
    }


blp = Blueprint(
    "providers", __name__, url_prefix="/", description="Sign in with an OpenID Connect provider."
)

OLDEST_FIRST = Order((Identity.id,))
UNKNOWN_PROVIDER = {"schema": ErrorSchema, "description": "not_found: no provider has that name."}
UNREACHABLE = {"schema": ErrorSchema, "description": "service_unavailable: the provider is down."}


def go_to(url: str, **parameters: str):
    """A redirect to ``url`` with ``parameters`` added (a state or a single-use code: no cache
    keeps it, as no cache keeps any answer, ``app.request_hooks``)."""
    if parameters:
        url += ("&" if "?" in url else "?") + urlencode(parameters)
    return redirect(url, 302)


@blp.route("providers")
@blp.response(200, ProviderPageSchema)
def list_providers():
    """The configured providers, and where to start a sign-in with each."""
    items = [
        {"name": provider.name, "login_url": url_for("providers.start", provider=provider.name)}
        for provider in oidc.configured()
    ]
    here = url_for("providers.list_providers")
    return {
        "items": items,
        "meta": {"page": 1, "per_page": len(items), "total_pages": 1, "total_items": len(items)},
        "links": {"self": here, "first": here, "last": here, "next": None, "prev": None},
    }


@blp.route("login/oidc/<provider:provider>")
@writes_on_get
@blp.rate_limited("login")
@blp.arguments(ProviderStartArgsSchema, location="query")
@blp.response(302, description="To the provider's authorization endpoint.")
@blp.alt_response(400, schema=ErrorSchema, description="bad_request: a bad query parameter.")
@blp.alt_response(404, **UNKNOWN_PROVIDER)
@blp.alt_response(503, **UNREACHABLE)
def start(args, provider: str):
    """Start a sign-in: the browser goes to the provider (PKCE, state and nonce kept here)."""
    chosen = oidc.provider_named(provider)
    redirect_uri = oidc.allowed_redirect(args.get("redirect_uri"))
    url, binding = sign_in.start_sign_in(chosen, redirect_uri)
    db.session.commit()
    return bind_to_browser(go_to(url), binding, tickets.STATE_LIFESPAN)


@blp.route("login/oidc/<provider:provider>/callback")
@writes_on_get
@blp.rate_limited("login")
@blp.arguments(CallbackArgsSchema, location="query")
@blp.response(
    302, description="To the client's redirect_uri with ?code= (a link: ?link_code=&provider=)."
)
@blp.alt_response(400, schema=ErrorSchema, description="bad_request: unknown or used state.")
@blp.alt_response(
    401, schema=ErrorSchema, description="invalid_token: the code or ID token does not verify."
)
@blp.alt_response(
    403,
    schema=ErrorSchema,
    description="forbidden: the sign-in was started in another browser (this one does not "
    "hold its cookie), or the provider gave no usable e-mail address for a new account.",
)
@blp.alt_response(
    409,
    schema=ErrorSchema,
    description="conflict: an account has this e-mail address (sign in to it and link from "
    "there), or the identity is another account's.",
)
@blp.alt_response(503, **UNREACHABLE)
def callback(args, provider: str):
    """Where the provider sends the browser back: the client gets a single-use code, exchanged
    at POST /login/oidc/exchange (no token in a URL), or for a link a link_code its session
    confirms at POST /users/me/identities/<provider>/confirm."""
    redirect_uri, parameters = sign_in.finish(
        provider, args.get("state"), args.get("code"), args.get("error")
    )
    db.session.commit()
    return go_to(redirect_uri, **parameters)


@blp.route("login/oidc/exchange", methods=["POST"])
@blp.rate_limited("login")
@blp.arguments(ExchangeSchema)
@blp.response(200, LoginAnswerSchema)
@blp.alt_response(401, schema=ErrorSchema, description="invalid_token: unknown, expired, used.")
@blp.alt_response(
    403,
    schema=ErrorSchema,
    description="forbidden: not the browser that started the sign-in (the code is used up); "
    "account_disabled; or mfa_enrollment_required.",
)
def exchange(payload):
    """The tokens of a provider sign-in (login shape: a second factor still applies)."""
    answer = sign_in.with_provider(payload["code"])
    db.session.commit()
    return respond_with_tokens(answer, LoginAnswerSchema)


@blp.route("users/me/identities")
class MyIdentities(MethodView):
    @blp.auth_required(SESSION)
    @blp.list_arguments(IdentityListArgsSchema)
    @blp.response(200, IdentityPageSchema)
    def get(self, args):
        """Your identities at providers, the oldest first."""
        return paginate(identities.of_user(current_user()), args, OLDEST_FIRST, IdentitySchema)


@blp.route("users/me/identities/<provider:provider>", methods=["POST"])
@blp.fresh_auth_required
@blp.rate_limited("ceremonies", per="user")
@blp.arguments(LinkSchema)
@blp.response(200, LinkAnswerSchema)
@blp.alt_response(404, **UNKNOWN_PROVIDER)
@blp.alt_response(503, **UNREACHABLE)
def link(payload, provider: str):
    """Link a provider to your account: send the browser to authorization_url, then confirm
    the link_code it comes back with (POST /users/me/identities/<provider>/confirm)."""
    chosen = oidc.provider_named(provider)
    redirect_uri = oidc.allowed_redirect(payload.get("redirect_uri"))
    url = oidc.authorization_url(chosen, redirect_uri, link_to=current_user())
    db.session.commit()
    return {"authorization_url": url}


@blp.route("users/me/identities/<provider:provider>/confirm", methods=["POST"])
@blp.auth_required(SESSION)
@blp.arguments(LinkConfirmSchema)
@blp.response(201, IdentitySchema)
@blp.alt_response(403, schema=ErrorSchema, description="forbidden: another account's link.")
@blp.alt_response(404, **UNKNOWN_PROVIDER)
@blp.alt_response(409, schema=ErrorSchema, description="conflict: another account's identity.")
def confirm_link(payload, provider: str):
    """Finish linking a provider: the link_code the browser came back with. Only the account
    that asked for the link can confirm it."""
    chosen = oidc.provider_named(provider)
    identity = identities.confirm_link(
        current_user(), chosen.name, chosen.issuer, payload["link_code"]
    )
    db.session.commit()
    return identity, 201


@blp.route("users/me/identities/<int:identity_id>", methods=["DELETE"])
@blp.fresh_auth_required
@blp.response(204)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: you have no such identity.")
@blp.alt_response(409, schema=ErrorSchema, description="conflict: your only way in.")
def unlink(identity_id: int):
    """Unlink an identity (not your last way in)."""
    identities.remove(current_user(), identity_id)
    db.session.commit()
