"""Deleting an account: one way, for its holder (``DELETE /users/me``) and for admins
(``DELETE /users/<id>``), with the same rules.

- Refused with 409 ``conflict`` for an admin deleting themself and for the last active admin
  (v1), and for the last owner of an organization that has other members; with 403
  ``forbidden`` when the account holds a permission the one deleting it lacks (no escalation:
  one's own account never does). An organization it is the only member of goes with it; it
  leaves every other one.
- The account and everything it owns go in one transaction (sessions, refresh and personal
  tokens, passkeys, identities, bucketlists: the database cascades), so every token stops at
  once. Its audit events keep its id and lose its personal data (``app.audit``), and
  ``user.deleted`` is written, which webhooks are sent as an event holding the id only. Its
  username and e-mail address may be registered again.
- A notice is e-mailed to the address the account had.
"""

from app.access import roles
from app.access.safeguards import one_change_at_a_time, protect_admins
from app.extensions import db
from app.models import User
from app.notices import send_security_notice
from app.orgs import members

NOTICE_SUBJECT = "Your Gatehouse account was deleted"


def delete_account(user: User, actor: User) -> None:
    """Delete ``user``'s account, on ``actor``'s request (the same account, or an admin)."""
    one_change_at_a_time()
    roles.refuse_escalation(roles.grants(user.rolenames))
    protect_admins(actor, user, deleting=True)
    members.leave_all_for_deletion(user.user_id)
    db.session.delete(user)
    db.session.flush()
    by_whom = "at your request" if actor.user_id == user.user_id else "by an administrator"
    send_security_notice(
        user,
        NOTICE_SUBJECT,
        f"Your Gatehouse account was deleted {by_whom}, with everything it held: its sessions "
        "and tokens no longer work. If you did not expect this, reply to this e-mail.",
    )
