"""Rules that keep administration possible: nobody removes their own admin rights, and the last
active admin stays.

An admin's change to an account (``PATCH`` or ``DELETE /users/<id>``) starts with
``one_change_at_a_time``: changes to accounts by admins run one after the other, each seeing
what the one before it did. The check then runs inside the transaction that makes the change,
with every active admin's row locked (``SELECT ... FOR UPDATE``): two admins demoting each
other at the same moment are serialized, and the second sees that only one admin is left.
"""

from sqlalchemy import select, text

from app.errors import ApiError
from app.extensions import db
from app.models import User


def one_change_at_a_time() -> None:
    """Wait until no other admin's change to an account is under way (a transaction-level
    advisory lock, released at commit or rollback). Taken before the change reads the account
    or locks any row: two changes at once, a demotion and a deletion say, otherwise each held a
    row the other had to wait for (a deadlock, answered 503)."""
    db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('account_changes'))"))


def removes_admin(target: User, roles=None, is_active=None, deleting: bool = False) -> bool:
    """Whether the change takes an active admin away."""
    if not (target.is_active and "admin" in target.rolenames):
        return False
    return deleting or is_active is False or (roles is not None and "admin" not in roles)


def protect_admins(actor: User, target: User, **change) -> None:
    """409 ``conflict`` if the change would demote, deactivate or delete the actor themself, or
    the last active admin."""
    if not removes_admin(target, **change):
        return
    if target.user_id == actor.user_id:
        raise ApiError(409, "conflict", "You cannot demote, deactivate or delete yourself.")
    active_admins = db.session.scalars(
        select(User)
        .where(User.is_active, User.has_role("admin"))
        .order_by(User.user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    if target in active_admins and len(active_admins) == 1:
        raise ApiError(
            409, "conflict", "The last active admin cannot be demoted, deactivated or deleted."
        )
