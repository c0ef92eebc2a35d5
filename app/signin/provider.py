"""Signing in with an OpenID Connect provider, the ceremony: start (the browser leaves for the
provider, bound to this browser by a cookie), finish (the provider's redirect back: the code is
exchanged and the identity proved, ``app.signin.oidc``), and the exchange of the single-use code
the client got for the sign-in's answer (``with_provider``: a second factor and
``MFA_REQUIRED_ROLES`` still apply). A link of a provider to a signed-in account comes back as a
``link_code`` that the session which asked for it confirms (``app.accounts.identities``).
"""

import hmac

from app.accounts import identities
from app.errors import ApiError
from app.extensions import db
from app.models import User
from app.signin import after_first_factor
from app.signin.oidc import Provider, authorization_url, proved_claims, provider_named
from app.tokens import tickets
from app.tokens.opaque import digest, new_secret
from app.tokens.transport import browser_binding


def start_sign_in(provider: Provider, redirect_uri: str) -> tuple[str, str]:
    """A sign-in: where to send the person's browser, and the secret that binds the sign-in
    to that browser (the view sets it as a cookie: ``app.tokens.transport``). The callback and
    the exchange are refused without it, so nobody can have another person's browser finish
    a sign-in they started (and sign that person in to their account: login CSRF)."""
    binding = new_secret()
    return authorization_url(provider, redirect_uri, binding=digest(binding)), binding


def finish(
    provider_name: str, state: str | None, code: str | None, error: str | None
) -> tuple[str, dict[str, str]]:
    """The callback: the client URL to send the browser back to, and what to tell it: a code
    to exchange for the sign-in's tokens, or for a link a code its session confirms with.
    400 for an unknown, used or expired state or another provider's, 403 from another browser
    than the one that started a sign-in, 401 for a code or ID token the provider does not
    stand by, 503 when it cannot be reached."""
    ticket = tickets.redeem(tickets.OIDC_STATE, state) if state else None
    if ticket is None or ticket.data.get("provider") != provider_name:
        raise ApiError(400, "bad_request", "Unknown, used or expired state: start again.")
    if ticket.user_id is None:
        refuse_other_browser(ticket)
    provider = provider_named(provider_name)
    if error or not code:
        raise ApiError(401, "invalid_credentials", f"The provider refused: {error or 'no code'}.")
    claims = proved_claims(provider, code, ticket.data["verifier"], ticket.data["nonce"])
    back = ticket.data["redirect_uri"]
    if ticket.user_id is not None:
        link_code = identities.link_proved(provider.name, provider.issuer, claims, ticket.user_id)
        return back, {"link_code": link_code, "provider": provider.name}
    user = identities.account_for(provider.name, provider.issuer, claims)
    return back, {"code": tickets.exchange_code(user, ticket.data["binding"])}


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


def redeem_exchange(code: str) -> User:
    """The account a sign-in's exchange code signs in to, from the browser that started it
    (403 from any other: the code is used up either way)."""
    ticket = tickets.redeem(tickets.OIDC_EXCHANGE, code)
    user = db.session.get(User, ticket.user_id) if ticket is not None else None
    if user is None:
        raise ApiError(401, "invalid_token", "The code is unknown, expired or used.")
    refuse_other_browser(ticket)
    return user


def with_provider(code: str) -> dict:
    """``/login/oidc/exchange``: the code a provider sign-in sent the client back with."""
    user = redeem_exchange(code)
    if not user.may_sign_in:
        raise ApiError(403, "account_disabled")
    return after_first_factor(user, "oidc")
