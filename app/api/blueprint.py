"""The flask-smorest Blueprint every resource uses.

Who may call a view, and with which permission (``app.access.permissions``), is said once, by
one decorator that both enforces it (flask-praetorian's ``auth_required``, ``roles_required`` or
``roles_accepted``, then the permission) and documents it in the OpenAPI document (the bearer
security requirement naming the permission, who may call, the 401 and 403 answers), so the docs
cannot say "admin" of a view anyone may call:

    THINGS_READ = declare("things:read", "Read the things.")

    @blp.route("")
    class Things(MethodView):
        @blp.auth_required(THINGS_READ)
        def get(self): ...

A permission is granted by roles, which are data (``GET /roles``); ``roles_required`` and
``roles_accepted`` remain for rules about a role by name.

Its JSON body parser is ``app.api.parsing``'s, stricter than webargs' own.
"""

import math
import time
from functools import wraps

import flask_praetorian
import flask_smorest
from flask import current_app, g
from limits import parse as parse_limit

from app.access import org_permissions
from app.access.permissions import SESSION, require
from app.access.sessions import require_fresh_authentication
from app.addresses import request_client_key
from app.api.docs import BEARER_SCHEME
from app.api.parsing import ArgumentsParser
from app.errors import ApiError, error_response_doc
from app.extensions import limiter
from app.pagination import cursor as cursors
from app.pagination import walk
from app.schemas.common import ErrorSchema

NO_USABLE_BEARER = "No usable token: missing_token, invalid_token, token_expired or token_revoked."
RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer", "minimum": 1},
}
STALE_SESSION = (
    NO_USABLE_BEARER + " Or reauthentication_required: the session's last password check is older"
    " than REAUTH_WINDOW seconds (POST /reauthenticate, then try again)."
)


class Blueprint(flask_smorest.Blueprint):
    """A resource's blueprint; ``links`` names its top-level endpoints, which the root resource
    (``GET /``) links to by those names."""

    ARGUMENTS_PARSER = ArgumentsParser()

    def __init__(self, *args, links: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.links = links or {}

    def arguments(self, schema, *args, **kwargs):
        """smorest's ``arguments``, with the schema instantiated once: given a class, webargs
        would build a new schema on every request."""
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(schema, *args, **kwargs)

    def list_arguments(self, schema):
        """A list's query arguments (``page``, ``per_page``, ``cursor``, filters), loaded by
        ``schema`` (400 for a bad one), with the limit on pages asked for by number far into
        the list (429, ``refuse_too_many_deep_pages``); the view gets them as its argument."""

        def decorator(view):
            @wraps(view)
            def limited(*args, **kwargs):
                refuse_too_many_deep_pages(args[-1])  # (webargs appends the loaded arguments)
                return view(*args, **kwargs)

            documented = self.alt_response(
                400, schema=ErrorSchema, description="A query parameter is invalid (bad_request)."
            )(limited)
            documented = self.alt_response(
                429,
                schema=ErrorSchema,
                description="rate_limited: too many pages asked for by number far into a list "
                "(follow its links instead; see Retry-After).",
            )(documented)
            return self.arguments(schema, location="query")(documented)

        return decorator

    def rate_limited(self, name: str, per: str = "address"):
        """Apply the limit ``RATELIMIT_<NAME>`` (read from the config on each request) per client
        address (``app.addresses``), or with ``per="user"`` per signed-in user (then the
        decorator goes under the access decorator, which knows the user), and document its 429.
        Past the limit: 429 ``rate_limited`` with ``Retry-After``."""
        setting = f"RATELIMIT_{name.upper()}"
        key = request_client_key if per == "address" else signed_in_user_key

        def decorator(view):
            limited = limiter.limit(lambda: current_app.config[setting], key_func=key)(view)
            return self.alt_response(
                429,
                schema=ErrorSchema,
                description=f"rate_limited: more than {setting} requests from this "
                + ("address" if per == "address" else "account")
                + " (see Retry-After).",
                headers={"Retry-After": RETRY_AFTER},
            )(limited)

        return decorator

    def auth_required(
        self,
        permission: str | None = None,
        *,
        session: bool = False,
        fresh: bool = False,
        unauthorized: str = NO_USABLE_BEARER,
    ):
        """A signed-in caller whose token may use ``permission`` (any signed-in caller without
        one), and with ``session`` a session's token (never a personal one); with ``fresh``, a
        session's token whose password check is at most ``REAUTH_WINDOW`` seconds old, checked
        after the permission. ``unauthorized`` describes its 401 answers when the view gives
        more of them than a bad token."""
        if fresh:
            return lambda view: self._access(
                flask_praetorian.auth_required,
                freshness_checked(view),
                permission,
                True,
                STALE_SESSION,
            )
        return lambda view: self._access(
            flask_praetorian.auth_required, view, permission, session, unauthorized
        )

    def fresh_auth_required(self, view):
        """Any signed-in user whose session checked their password in the last
        ``REAUTH_WINDOW`` seconds may call the view, with a session's token (sensitive
        changes: ASVS 7.5)."""
        return self.auth_required(fresh=True)(view)

    def org_access(self, permission: str | None = None, *, fresh: bool = False):
        """A signed-in member of the organization the URL names (``org_id``), or platform
        support staff (``app.access.org_permissions``): to anyone else 404, never 403. With
        ``permission``, held in that organization (403 naming it); with ``fresh``, a session's
        token whose password check is recent (401). In this order, and before the body is read
        (422). The OpenAPI document names the organization permission in
        ``x-organization-permission``."""

        def decorator(view):
            @wraps(view)
            def checked(*args, **kwargs):
                access = org_permissions.access_to(kwargs["org_id"])
                if permission is not None:
                    org_permissions.require(access, permission)
                if fresh:
                    require(SESSION)
                    require_fresh_authentication()
                return view(*args, **kwargs)

            documented = self.alt_response(
                404,
                schema=ErrorSchema,
                description="not_found: no organization of yours has that id (to anyone who "
                "is not a member, whatever exists).",
            )(checked)
            if permission is not None:
                documented = self.doc(**{"x-organization-permission": permission})(documented)
            unauthorized = STALE_SESSION if fresh else NO_USABLE_BEARER
            return self._access(
                flask_praetorian.auth_required,
                documented,
                None,
                False,
                unauthorized,
                role_rule=(
                    f"a member holding {permission} in the organization"
                    if permission
                    else "a member of the organization"
                ),
            )

        return decorator

    def roles_required(self, *roles: str, permission: str | None = None):
        """Only users with every one of ``roles`` (by name), whose token may use ``permission``,
        may call it. Most routes name a permission alone (``auth_required``), so that a role made
        through the API can be given it; a role check is for rules about a role itself."""
        return lambda view: self._access(
            flask_praetorian.roles_required(*roles),
            view,
            permission,
            False,
            role_rule="the role" + ("s " if len(roles) > 1 else " ") + " and ".join(roles),
        )

    def roles_accepted(self, *roles: str, permission: str | None = None):
        """Users with any one of ``roles``, whose token may use ``permission``, may call it."""
        return lambda view: self._access(
            flask_praetorian.roles_accepted(*roles),
            view,
            permission,
            False,
            role_rule="one of the roles " + ", ".join(roles),
        )

    def _access(
        self,
        praetorian_check,
        view,
        permission: str | None,
        session: bool,
        unauthorized: str = NO_USABLE_BEARER,
        role_rule: str | None = None,
    ):
        """Guard ``view`` with praetorian's check, then the permission (and the session token);
        document both."""
        needed = [name for name in (permission, SESSION if session else None) if name]

        @wraps(view)
        def permitted(*args, **kwargs):
            for name in needed:
                require(name)
            return view(*args, **kwargs)

        who = "any signed-in caller" + (f" with {role_rule}" if role_rule else "")
        if needed:
            who += ", whose token may use " + " and ".join(needed)
        refused = (
            (f"forbidden (not {role_rule}, or " if role_rule else "forbidden (")
            + "the account's roles do not grant the permission: details.permissions names it), "
            "insufficient_scope (a personal token not given it) or account_disabled."
        )
        return self.doc(
            security=[{BEARER_SCHEME: needed}],
            description=f"Requires a bearer token of {who}.",
            responses={
                "401": error_response_doc(unauthorized),
                "403": error_response_doc(refused),
            },
        )(praetorian_check(permitted))


def freshness_checked(view):
    """``view``, called once the session's last password check is recent enough."""

    @wraps(view)
    def fresh(*args, **kwargs):
        require_fresh_authentication()
        return view(*args, **kwargs)

    return fresh


def signed_in_user_key() -> str:
    return f"user:{g.authenticated_user_id}"


def refuse_too_many_deep_pages(args: dict) -> None:
    """429 past ``RATELIMIT_DEEP_PAGES`` pages by number more than ``DEEP`` rows into a list,
    per user: each walks up to half a list's index, so a few clients asking for them without
    stopping would keep the database busy for everyone. A client following links (whose
    cursor is ours, for that page) is never limited."""
    config = current_app.config
    deep = (args["page"] - 1) * args["per_page"] > walk.DEEP
    if not (config["RATELIMIT_ENABLED"] and deep) or cursors.is_for_page(
        args.get("cursor"), args["page"]
    ):
        return
    limit = parse_limit(config["RATELIMIT_DEEP_PAGES"])
    who = str(g.get("authenticated_user_id") or request_client_key())
    if limiter.limiter.hit(limit, "deep-pages", who):
        return
    reset_at = limiter.limiter.get_window_stats(limit, "deep-pages", who).reset_time
    raise ApiError(
        429,
        "rate_limited",
        "Too many pages asked for by number far into a list: follow the list's links, which "
        "cost the same at any depth.",
        headers={"Retry-After": str(max(1, math.ceil(reset_at - time.time())))},
    )
