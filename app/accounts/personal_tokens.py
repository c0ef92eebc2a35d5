"""Personal access tokens: created by a signed-in user (a fresh session), listed, revoked.

A token acts as its user, within the scopes it was given (permissions of the catalog,
``app.access.permissions``) and never beyond what its user's roles grant at the time of use. It
is checked like an access token, in one statement with its user; its ``last_used_at`` is written
at most once a minute. A password change or reset, a deactivation, a deletion and an admin's
revocation end it (deleting the row); creations and revocations are audited (``token.created``,
``token.revoked``). An account whose roles require a second factor makes and uses tokens only
while it has one."""

from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from app.access import mfa_policy, org_permissions, permissions
from app.audit import record_event
from app.errors import ApiError
from app.extensions import db
from app.models import PersonalToken, User
from app.models.columns import utcnow
from app.tokens import personal

USE_RECORDED_EVERY = timedelta(minutes=1)


def create(
    user: User,
    name: str,
    scopes: list[str],
    expires_in: int | None,
    organization_id: int | None = None,
) -> tuple:
    """A new token of ``user``, and its secret (shown this once): 422 for scopes beyond the
    user's roles (and, bound to an organization, its roles there) or a lifespan past
    ``PAT_MAX_LIFESPAN``, 409 past ``PATS_PER_USER``, 404 for an organization it is not a
    member of."""
    config = current_app.config
    mfa_policy.refuse_without_required_factor(user)
    held = permissions.of_account(user)
    if organization_id is not None:
        held = held | org_permissions.access_to(organization_id).permissions
    beyond = sorted(set(scopes) - held)
    if beyond:
        raise ApiError(
            422,
            "validation_error",
            details={"scopes": [f"Your roles do not give {', '.join(beyond)}."]},
        )
    default = min(config["PAT_DEFAULT_LIFESPAN"], config["PAT_MAX_LIFESPAN"])
    lifespan = default if expires_in is None else expires_in
    if not 0 < lifespan <= config["PAT_MAX_LIFESPAN"]:
        limit = config["PAT_MAX_LIFESPAN"]
        raise ApiError(
            422,
            "validation_error",
            details={"expires_in": [f"Give 1 to {limit} seconds (PAT_MAX_LIFESPAN)."]},
        )
    count = db.session.scalar(select(func.count()).where(PersonalToken.user_id == user.user_id))
    if count >= config["PATS_PER_USER"]:
        raise ApiError(409, "conflict", "Too many tokens: revoke one you no longer use.")
    secret, stored = personal.mint()
    token = PersonalToken(
        user_id=user.user_id,
        name=name,
        scopes=sorted(set(scopes)),
        digest=stored,
        expires_at=utcnow() + timedelta(seconds=lifespan),
        organization_id=organization_id,
    )
    db.session.add(token)
    db.session.flush()
    record_event(
        "token.created",
        user.user_id,
        {"token": [None, name], "scopes": [None, token.scopes], "id": [None, token.id]},
    )
    return token, secret


def of_user(user_id: int):
    """SQL: the tokens of a user, for their list."""
    return select(PersonalToken).where(PersonalToken.user_id == user_id)


def token_of(user_id: int, token_id: int) -> PersonalToken:
    """That token of that user, or 404 (another user's too: no existence leak)."""
    token = db.session.get(PersonalToken, token_id)
    if token is None or token.user_id != user_id:
        raise ApiError(404, "not_found", "No token of this user has that id.")
    return token


def revoke(token: PersonalToken) -> None:
    """The token stops working on the next request."""
    record_event(
        "token.revoked", token.user_id, {"token": [token.name, None], "id": [token.id, None]}
    )
    db.session.delete(token)


def revoke_all(user_id: int, reason: str) -> int:
    """End every token of the user (a password change or reset, a deactivation); audited."""
    ended = db.session.execute(delete(PersonalToken).where(PersonalToken.user_id == user_id))
    if ended.rowcount:
        record_event(
            "token.revoked", user_id, {"tokens": [ended.rowcount, 0], "reason": [None, reason]}
        )
    return ended.rowcount


def prune() -> int:
    """Delete expired tokens; return how many."""
    result = db.session.execute(delete(PersonalToken).where(PersonalToken.expires_at <= utcnow()))
    db.session.commit()
    return result.rowcount
