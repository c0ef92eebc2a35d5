"""Confirming it is you again (``POST /reauthenticate``): a passkey, or the password and, when
the account has a second factor, one of them. A wrong one counts like a failed sign-in; once
they pass, the access token that asked, and those its session gets from now on, are fresh for
``REAUTH_WINDOW`` seconds."""

from app.access.sessions import current_session, current_token_id, mark_authenticated
from app.accounts import factors
from app.models import User


def reauthenticate(user: User, given: dict) -> None:
    """Prove ``user``'s factors (``given``), then mark the request's session fresh."""
    factors.prove(user, *factors.reauthentication(user, given))
    mark_authenticated(current_session(), current_token_id())
