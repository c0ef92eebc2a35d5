"""What a bearer token proves, asked on every protected request.

An access token is verified by PyJWT (``app.tokens.access``; a worker keeps what it verified
until the token's ``exp``, ``app.tokens.verified``); then its user and the state of the session
it names are read in one statement, on every request, and it is refused if the user is gone
(401 ``token_revoked``), the session ended (``token_revoked``) or expired (``token_expired``),
the session's password changed since the token was minted (its generation moved on:
``token_revoked``), or the account may not sign in (403 ``account_disabled``). None of this is
cached: every worker and instance refuses an ended session on the very next request.

A personal access token (``gh_pat_...``, ``app.accounts.personal_tokens``) is read with its user in
one statement too, and refused if revoked (401 ``invalid_token``), expired (``token_expired``)
or its account may not sign in, or its account's roles require a second factor it no longer has
(403 ``mfa_enrollment_required``); it has no session, and so is never fresh.

The request's permissions (``app.access.permissions``): a session's token has every permission
its user's roles grant now, and ``session``; a personal token its scopes (with what is declared
within them) that its user's roles grant now. What roles grant is read as of the authorization
version the token's statement returns, so a change of a role is obeyed on the next request.

Freshness belongs to the token, not only to its session: a token counts as freshly
authenticated when its session's last password check (login, ``/reauthenticate``, a password
change) is recent and the token either made that check or was minted after it. An access token
copied before the owner reauthenticated never becomes fresh.
"""

from datetime import UTC, datetime

from flask import g

from app.access import mfa_policy, permissions
from app.access.permissions import BUCKETLISTS_READ, BUCKETLISTS_WRITE, PROFILE, SESSION
from app.errors import ApiError
from app.models import User
from app.models.session import SessionState
from app.tokens import access, claims, personal


def authenticate(token: str) -> dict:
    """The claims of the request's bearer token (praetorian's decorators read its user and
    roles), after the checks above; the request keeps what they found (``g.authenticated_*``)."""
    if personal.is_personal(token):
        return authenticate_personal(token)
    data = access.read(token)
    organization_id = data.get(claims.ORGANIZATION)
    user, session, version, member = User.token_subject(
        data[claims.USER], data[claims.SESSION], organization_id
    )
    if user is None:
        raise ApiError(401, "token_revoked", "The token's user no longer exists.")
    check_session(session, data)
    if not user.may_sign_in:
        raise ApiError(403, "account_disabled")
    refuse_outside_organization(organization_id, member)
    # The request keeps the user (the session only holds it weakly), so ``current_user()``
    # finds it in the session's identity map instead of loading it again.
    g.authenticated_user = user
    g.authenticated_user_id = user.user_id
    g.authenticated_session_id = session.id
    g.authenticated_token_id = data[claims.TOKEN_ID]
    g.authenticated_at = session.authenticated_at if made_or_after_check(session, data) else None
    g.token_organization_id = organization_id
    g.authorization_version = version
    held = permissions.of_roles(user.rolenames, version) | {SESSION}
    g.authenticated_role_permissions = held
    g.authenticated_permissions = held
    # praetorian's role decorators read the account's roles now (a role change ends its sessions
    # anyway, so they are the token's).
    return {**data, claims.ROLES: ",".join(user.rolenames)}


def authenticate_personal(token: str) -> dict:
    """A personal token's user, and the claims praetorian reads (the user's roles now)."""
    user, held, version, member = personal.holder(token)
    if held is None:
        raise ApiError(401, "invalid_token", "The token is not one of ours (or was revoked).")
    # (equivalent mutant: >; differs only at the very microsecond of expires_at.)
    if datetime.now(UTC) >= held.expires_at:
        raise ApiError(401, "token_expired", "The personal token has expired.")
    if not user.may_sign_in:
        raise ApiError(403, "account_disabled")
    refuse_outside_organization(held.organization_id, member)
    mfa_policy.refuse_without_required_factor(user)
    personal.record_use(held)
    g.authenticated_user = user
    g.authenticated_user_id = user.user_id
    # (equivalent mutant: None; nothing reads it yet: the token's id for a debugger or a log.)
    g.authenticated_personal_token_id = held.id
    # (equivalent mutant: None; only permissions.request_version reads it, which then reads the
    # version now, the same within the request.)
    g.authorization_version = version
    by_roles = permissions.of_roles(user.rolenames, version)
    usable = permissions.within_scopes(held.scopes) & by_roles
    if held.organization_id is not None:
        # Bound to an organization: its routes and its objects, and one's own profile.
        usable &= {PROFILE, BUCKETLISTS_READ, BUCKETLISTS_WRITE}
        g.confined_to_organization = held.organization_id
    g.authenticated_role_permissions = by_roles
    g.authenticated_permissions = frozenset(usable)
    g.token_organization_id = held.organization_id
    g.token_scopes = held.scopes
    # (equivalent mutant: another separator; only praetorian's roles_required/roles_accepted read
    # these roles, and no route uses them today.)
    return {claims.USER: user.user_id, claims.ROLES: ",".join(user.rolenames)}


def refuse_outside_organization(organization_id: int | None, member: bool) -> None:
    """A token bound to an organization works while its user is a member of it (and the
    organization exists): 401 ``token_revoked`` after that; the user's other tokens go on."""
    if organization_id is not None and not member:
        raise ApiError(401, "token_revoked", "The token's organization is gone, or you left it.")


def check_session(session: SessionState | None, data: dict) -> None:
    """An access token's session, as ``User.token_subject`` read it, must be live and of the
    token's generation."""
    if session is None:
        raise ApiError(401, "token_revoked", "The token names no session of its user.")
    if session.ended_at is not None:
        raise ApiError(401, "token_revoked", "The session has ended.")
    if datetime.now(UTC) >= session.ends_at:
        raise ApiError(401, "token_expired", "The session has expired: sign in again.")
    if data.get(claims.GENERATION) != session.generation:
        raise ApiError(401, "token_revoked", "The session's password changed since.")


def made_or_after_check(session: SessionState, data: dict) -> bool:
    """Whether the token made its session's last password check, or was minted after it."""
    if session.authenticated_jti is not None and data[claims.TOKEN_ID] == session.authenticated_jti:
        return True
    return data[claims.ISSUED_AT] >= int(session.authenticated_at.timestamp())
