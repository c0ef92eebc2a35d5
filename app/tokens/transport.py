"""How tokens travel: the ``Authorization`` header that brings a bearer token, the answer that
hands out a session's tokens, and, in browser mode, the cookie that carries its refresh token.

Browser mode (``REFRESH_COOKIE=true``): the refresh token travels in an ``HttpOnly; Secure;
SameSite=Strict`` cookie, scoped to the two routes that read it (``/refresh`` and ``/logout``),
instead of the body, so that scripts in the page never see it. Those two routes then refuse a
request without the ``X-Requested-With`` header (OWASP's custom request header defence: a
cross-site form cannot send one, and a cross-site script may only where CORS allows it, which
is ``CORS_ORIGINS`` alone).

A provider sign-in is bound to the browser that started it by a cookie of its own
(``bind_to_browser``): the provider's redirect back and the exchange of its code are refused
from any other browser.
"""

import re

from flask import current_app, make_response, request, url_for

from app.errors import ApiError
from app.models import User, UserSession
from app.models.columns import utcnow
from app.tokens import access

# RFC 6750 2.1: "Bearer" 1*SP b64token, b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" /
# "+" / "/" ) *"=" (one space: more is not what the grammar allows).
BEARER_HEADER = re.compile(r"Bearer ([A-Za-z0-9\-._~+/]+=*)")
TOKEN_TYPE = "Bearer"  # noqa: S105 (a token type, not a secret)
REFRESH_COOKIE_NAME = "gatehouse_refresh"
CSRF_HEADER = "X-Requested-With"
COOKIE_ROUTES = ("auth.refresh", "auth.logout")
COOKIE_ATTRIBUTES = {"secure": True, "httponly": True, "samesite": "Strict"}
# A provider sign-in's binding to the browser that started it: sent back on the provider's
# redirect to the callback (a top-level GET from another site: SameSite=Lax, not Strict) and on
# the exchange, and to nothing else.
SIGN_IN_COOKIE_NAME = "gatehouse_sign_in"
SIGN_IN_COOKIE_PATH = "/login/oidc"
SIGN_IN_COOKIE_ATTRIBUTES = {"secure": True, "httponly": True, "samesite": "Lax"}


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization`` header written exactly as RFC 6750 says (``Bearer``,
    one space, the token's characters and nothing else); None when it is not."""
    match = BEARER_HEADER.fullmatch(header or "")
    return match.group(1) if match else None


def browser_mode() -> bool:
    return current_app.config["REFRESH_COOKIE"]


def refuse_cross_site() -> None:
    """In browser mode, a request the cookie rides on must carry the custom header."""
    if browser_mode() and not request.headers.get(CSRF_HEADER):
        raise ApiError(403, "forbidden", f"Send the {CSRF_HEADER} header with this request.")


def presented_refresh_token(body_token: str | None) -> str:
    """The refresh token a request presents: in its body, or in browser mode in the cookie."""
    presented = body_token
    if presented is None and browser_mode():
        presented = request.cookies.get(REFRESH_COOKIE_NAME)
    if presented is None:
        raise ApiError(401, "missing_token", "Send the session's refresh token.")
    return presented


def session_answer(
    user: User, session: UserSession, refresh_token: str, membership=None, **extra
) -> dict:
    """The body of every answer that hands out a session's tokens (``TokenSchema``'s shape,
    with ``extra`` fields): a new access token for ``session`` (never outliving it; bound to
    the organization of ``membership`` when given) and its refresh token."""
    left = max(0, int((session.ends_at - utcnow()).total_seconds()))
    lifespan = min(current_app.config["JWT_ACCESS_LIFESPAN"]["seconds"], left)
    return {
        "access_token": access.mint(user, session, lifespan, membership),
        "token_type": TOKEN_TYPE,
        "expires_in": lifespan,
        "refresh_token": refresh_token,
        "refresh_expires_in": left,
        **extra,
    }


def respond_with_tokens(body: dict, schema):
    """The answer for ``body`` (a ``session_answer``): as it is, or in browser mode with the
    refresh token moved from the body to the cookie (``schema`` dumps the rest)."""
    if not browser_mode():
        return body
    body = dict(body)
    refresh_token = body.pop("refresh_token")
    response = make_response(schema().dump(body))
    for endpoint in COOKIE_ROUTES:
        response.set_cookie(
            REFRESH_COOKIE_NAME,
            refresh_token,
            max_age=body["refresh_expires_in"],
            path=url_for(endpoint),
            **COOKIE_ATTRIBUTES,
        )
    return response


def forget_refresh_cookie(response):
    """In browser mode, clear the refresh cookie (a logout)."""
    if browser_mode():
        for endpoint in COOKIE_ROUTES:
            response.delete_cookie(REFRESH_COOKIE_NAME, path=url_for(endpoint), **COOKIE_ATTRIBUTES)
    return response


def bind_to_browser(response, binding: str, lifespan: int):
    """Set the cookie that binds a provider sign-in to this browser (``binding``, a secret
    whose digest the sign-in's state keeps) for ``lifespan`` seconds."""
    response.set_cookie(
        SIGN_IN_COOKIE_NAME,
        binding,
        max_age=lifespan,
        path=SIGN_IN_COOKIE_PATH,
        **SIGN_IN_COOKIE_ATTRIBUTES,
    )
    return response


def browser_binding() -> str | None:
    """The provider sign-in binding this browser presents (None: it started none)."""
    return request.cookies.get(SIGN_IN_COOKIE_NAME)
