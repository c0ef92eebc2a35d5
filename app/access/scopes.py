"""Scopes: what a bearer token may be used for, finer than roles.

Every route names the scope it needs in the decorator that names its roles
(``app/api/blueprint.py``), which enforces and documents both. A session's access token has
every scope its user's roles give; a personal token has the scopes it was given, and never
more than its user's roles give at the time of use (a demoted user's token loses what the role
gave). ``session`` is held by a session's access token only: routes that manage tokens,
sessions, passwords, MFA, passkeys or the e-mail address, and every "fresh" route, need it.

A request a token's scopes do not cover is 403 ``insufficient_scope`` with RFC 6750's
challenge, ``WWW-Authenticate: Bearer error="insufficient_scope", scope="..."``.
"""

from flask import g

from app.errors import ApiError

SESSION = "session"
SCOPES = {
    "profile": "Read and change one's own profile.",
    "users:read": "Read the user directory (and, for staff, the admin view of users).",
    "users:write": "Create, change and delete accounts (admin).",
    "bucketlists:read": "Read one's bucketlists and their items (an admin's: everyone's).",
    "bucketlists:write": "Create, change and delete bucketlists and items.",
    "audit:read": "Read the audit trail (admin, operator).",
}
# What each role gives; a token's scopes are the union over its user's roles.
ROLE_SCOPES = {
    "user": {"profile", "users:read", "bucketlists:read", "bucketlists:write"},
    "operator": {"profile", "users:read", "bucketlists:read", "bucketlists:write", "audit:read"},
    "admin": set(SCOPES),
}


def scopes_of_roles(roles) -> set[str]:
    """The scopes ``roles`` give."""
    return set().union(*(ROLE_SCOPES.get(role, set()) for role in roles))


def granted_scopes() -> set[str]:
    """The scopes of the request's bearer token (set by ``app.access.bearer``)."""
    return g.get("authenticated_scopes", set())


def require_scope(scope: str) -> None:
    """403 ``insufficient_scope`` unless the request's token has ``scope``."""
    if scope in granted_scopes():
        return
    raise ApiError(
        403,
        "insufficient_scope",
        f"This token's scopes do not cover this request: it needs {scope}"
        + (" (a session's token: sign in)." if scope == SESSION else "."),
        headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
    )
