"""The flask-smorest Blueprint every resource uses.

Who may call a view is said once, by one decorator that both enforces it (flask-praetorian's
``auth_required``, ``roles_required`` or ``roles_accepted``) and documents it in the OpenAPI
document (the bearer security requirement, who may call, the 401 and 403 answers), so the docs
cannot say "admin" of a view anyone may call:

    @blp.route("")
    class Things(MethodView):
        @blp.auth_required
        def get(self): ...

        @blp.roles_required("admin")
        def post(self): ...

Its JSON body parser is stricter than webargs' own: an operation that takes a body refuses a
request without one (422), instead of reading it as an empty object (a PATCH with no body is a
mistake, not a no-op), and nesting too deep for Python's parser, or an integer longer than it
reads (4,300 digits), is malformed JSON (400), not an internal error.
"""

import json
from functools import wraps

import flask_praetorian
import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser, abort

from app.api.docs import BEARER_SCHEME
from app.auth.sessions import require_fresh_authentication
from app.errors import error_response_doc

BODY_REQUIRED = "A JSON body is required."
NO_USABLE_BEARER = "No usable token: missing_token, invalid_token, token_expired or token_revoked."
STALE_SESSION = (
    NO_USABLE_BEARER + " Or reauthentication_required: the session's last password check is older"
    " than REAUTH_WINDOW seconds (POST /reauthenticate, then try again)."
)


class ArgumentsParser(FlaskParser):
    def _raw_load_json(self, req):
        try:
            data = super()._raw_load_json(req)
        except RecursionError:
            error = json.JSONDecodeError("JSON nested too deeply", "", 0)
            return self._handle_invalid_json_error(error, req)
        except ValueError as too_long:
            # An integer past Python's 4,300-digit limit: unreadable, like malformed JSON.
            error = json.JSONDecodeError(str(too_long), "", 0)
            return self._handle_invalid_json_error(error, req)
        if data is core.missing and not req.get_data(cache=True):
            abort(422, messages={"json": {"_schema": [BODY_REQUIRED]}})
        return data


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = ArgumentsParser()

    def arguments(self, schema, *args, **kwargs):
        """smorest's ``arguments``, with the schema instantiated once: given a class, webargs
        would build a new schema on every request."""
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(schema, *args, **kwargs)

    def auth_required(self, view=None, *, unauthorized: str = NO_USABLE_BEARER):
        """Any signed-in user may call the view. ``unauthorized`` describes its 401 answers when
        the view gives more of them than a bad token (``@blp.auth_required(unauthorized=...)``).
        """
        if view is None:
            return lambda view: self.auth_required(view, unauthorized=unauthorized)
        guarded = flask_praetorian.auth_required(view)
        return self._access(guarded, "any signed-in user", unauthorized=unauthorized)

    def fresh_auth_required(self, view):
        """Any signed-in user whose session checked their password in the last
        ``REAUTH_WINDOW`` seconds may call the view (sensitive changes: ASVS 7.5)."""

        @wraps(view)
        def fresh(*args, **kwargs):
            require_fresh_authentication()
            return view(*args, **kwargs)

        return self._access(
            flask_praetorian.auth_required(fresh),
            "any signed-in user, whose session checked the password recently",
            unauthorized=STALE_SESSION,
        )

    def roles_required(self, *roles: str):
        """Only users with every one of ``roles`` may call the view."""
        return lambda view: self._access(
            flask_praetorian.roles_required(*roles)(view),
            "a user with the role" + ("s " if len(roles) > 1 else " ") + " and ".join(roles),
            forbidden=True,
        )

    def roles_accepted(self, *roles: str):
        """Users with any one of ``roles`` may call the view."""
        return lambda view: self._access(
            flask_praetorian.roles_accepted(*roles)(view),
            "a user with one of the roles " + ", ".join(roles),
            forbidden=True,
        )

    def _access(
        self, guarded, who: str, forbidden: bool = False, unauthorized: str = NO_USABLE_BEARER
    ):
        """Document what the access decorator enforces, on the view it guards."""
        refused = ("forbidden (missing role) or " if forbidden else "") + "account_disabled."
        return self.doc(
            security=[{BEARER_SCHEME: []}],
            description=f"Requires a bearer token of {who}.",
            responses={
                "401": error_response_doc(unauthorized),
                "403": error_response_doc(refused),
            },
        )(guarded)
