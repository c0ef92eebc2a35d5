"""What a password reset ends besides sessions and personal tokens: other ways in.

A reset is the "someone got in" button. Someone who got in may have added a way back that a new
password does not stop: a passkey, or an identity at a provider. So a reset also removes, as its
confirmation asks (``remove_ways_in``):

- ``recent`` (the default): the passkeys and identities added in the last
  ``RESET_RECENT_WAYS_IN`` seconds (7 days), the window in which an intruder's additions are
  likely to lie, while the holder's older devices keep working;
- ``all``: every passkey and identity (the account signs in with its new password only);
- ``none``: nothing more.

Each removal is audited (``passkey.removed``, ``identity.removed``) and named in the e-mail that
tells the holder about the reset.
"""

from datetime import timedelta

from flask import current_app
from sqlalchemy import delete

from app.audit import record_event
from app.extensions import db
from app.models import Identity, Passkey, User
from app.models.columns import utcnow


def remove_ways_in(user: User, which: str) -> list[str]:
    """Remove ``user``'s passkeys and identities as ``which`` says; what was removed, for the
    notice (``Passkey 'name'``, ``identity at provider``)."""
    if which == "none":
        return []
    removed = []
    for model, event, describe in (
        (Passkey, "passkey.removed", lambda row: ("passkey", row.name, f"passkey '{row.name}'")),
        (
            Identity,
            "identity.removed",
            lambda row: ("identity", row.provider, f"identity at {row.provider}"),
        ),
    ):
        statement = delete(model).where(model.user_id == user.user_id)
        if which == "recent":
            since = utcnow() - timedelta(seconds=current_app.config["RESET_RECENT_WAYS_IN"])
            statement = statement.where(model.created_at >= since)
        for row in db.session.execute(statement.returning(model)).scalars():
            field, value, text = describe(row)
            record_event(event, user.user_id, {field: [value, None], "reason": [None, "reset"]})
            removed.append(text)
    return removed
