"""``POST /authz/check``: how other services ask Gatehouse whether someone may do something, now,
instead of trusting a token claim that may be stale.

A check names a permission, and whose it is (``user_id``; default: the caller, as the caller's
token may use it), and maybe where: a bucketlist (``bucketlists:read``/``write``: its owner, or
whoever may use the ``_all`` permission; any other permission on a bucketlist is not granted) or
an organization. The schemas refuse a permission the catalog does not have (422). Checks are
answered in the order asked, each ``{allowed, reason}``. Nothing is revealed to a caller who may
not see it: another user's permissions need ``users:read``; a bucketlist is looked at only if
the caller may see it; a user, an organization or an object that does not exist gets the same
answer as "not allowed". The whole batch costs three statements, however many checks it holds."""

from sqlalchemy import select

from app.access import permissions
from app.access.permissions import BUCKETLISTS_READ, BUCKETLISTS_WRITE, SESSION, USERS_READ
from app.extensions import db
from app.models import Bucketlist, User

GRANTED = {"allowed": True, "reason": "granted"}
NOT_GRANTED = {"allowed": False, "reason": "not_granted"}
# The permissions a check on a bucketlist may name, and what grants them on anyone's.
ON_BUCKETLISTS = {
    BUCKETLISTS_READ: "bucketlists:read_all",
    BUCKETLISTS_WRITE: "bucketlists:write_all",
}


def decide(caller_id: int, checks: list[dict]) -> list[dict]:
    """The answers to ``checks`` asked by ``caller_id``, in their order."""
    version = permissions.current_version()
    mine = permissions.granted() - {SESSION}
    others = {c["user_id"] for c in checks if c.get("user_id", caller_id) != caller_id}
    subjects = {}
    if others and permissions.holds(USERS_READ):
        for user in db.session.scalars(select(User).where(User.user_id.in_(others))):
            held = permissions.of_roles(user.rolenames, version) if user.may_sign_in else set()
            subjects[user.user_id] = held
    wanted = {c["bucketlist_id"] for c in checks if "bucketlist_id" in c}
    owners = (
        dict(
            db.session.execute(
                select(Bucketlist.id, Bucketlist.owner_id).where(Bucketlist.id.in_(wanted))
            ).all()
        )
        if wanted
        else {}
    )
    sees_all_lists = bool(mine & set(ON_BUCKETLISTS.values()))
    answers = []
    for check in checks:
        subject = check.get("user_id", caller_id)
        held = mine if subject == caller_id else subjects.get(subject)
        off_topic = "bucketlist_id" in check and check["permission"] not in ON_BUCKETLISTS
        if held is None or "organization_id" in check or off_topic:
            # Organizations come with their own checks; until then, none holds anywhere.
            answers.append(NOT_GRANTED)
            continue
        allowed = check["permission"] in held
        if allowed and "bucketlist_id" in check:
            owner = owners.get(check["bucketlist_id"])
            visible = owner is not None and (owner == caller_id or sees_all_lists)
            any_list = ON_BUCKETLISTS[check["permission"]] in held
            allowed = visible and (owner == subject or any_list)
        answers.append(GRANTED if allowed else NOT_GRANTED)
    return answers
