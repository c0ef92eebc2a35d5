"""``POST /authz/check``: how other services ask Gatehouse whether someone may do something, now,
instead of trusting a token claim that may be stale.

A check names a permission, and whose it is (``user_id``; default: the caller, as the caller's
token may use it), and maybe where: a bucketlist (``bucketlists:read``/``write``: its owner, or
whoever may use the ``_all`` permission; any other permission on a bucketlist is not granted) or
an organization. The schemas refuse a permission the catalog does not have (422). Checks are
answered in the order asked, each ``{allowed, reason}``. Nothing is revealed to a caller who may
not see it: another user's permissions need ``users:read``; a bucketlist is looked at only if
the caller may see it; a user, an organization or an object that does not exist gets the same
answer as "not allowed". In an organization, a subject's permissions are those of their roles
there; the caller must be a member (or support staff) to be told anything. The whole batch costs
at most four statements beyond the token's, however many checks it holds."""

from flask import g
from sqlalchemy import select

from app.access import permissions
from app.access.org_permissions import BUILT_IN
from app.access.permissions import (
    BUCKETLISTS_READ,
    BUCKETLISTS_WRITE,
    ORGS_MANAGE,
    ORGS_READ,
    SESSION,
    USERS_READ,
)
from app.extensions import db
from app.models import Bucketlist, Membership, Role, RolePermission, User
from app.models.user import split_roles

GRANTED = {"allowed": True, "reason": "granted"}
NOT_GRANTED = {"allowed": False, "reason": "not_granted"}
# The permissions a check on a bucketlist may name, and what grants them on anyone's.
ON_BUCKETLISTS = {
    BUCKETLISTS_READ: "bucketlists:read_all",
    BUCKETLISTS_WRITE: "bucketlists:write_all",
}


def decide(caller_id: int, checks: list[dict]) -> list[dict]:
    """The answers to ``checks`` asked by ``caller_id``, in their order."""
    # (what the caller's own permissions were resolved at, by the token's statement)
    version = permissions.request_version()
    mine = permissions.granted() - {SESSION}
    others = {c["user_id"] for c in checks if c.get("user_id", caller_id) != caller_id}
    platform = {caller_id: mine}
    if others and permissions.holds(USERS_READ):
        for user in db.session.execute(
            select(User.user_id, User.roles, User.may_sign_in.label("may_sign_in")).where(
                User.user_id.in_(others)
            )
        ):
            held = permissions.of_roles(split_roles(user.roles), version)
            platform[user.user_id] = held if user.may_sign_in else set()
    wanted = {c["bucketlist_id"] for c in checks if "bucketlist_id" in c}
    lists = (
        {
            row.id: row
            for row in db.session.execute(
                select(Bucketlist.id, Bucketlist.owner_id, Bucketlist.organization_id).where(
                    Bucketlist.id.in_(wanted)
                )
            )
        }
        if wanted
        else {}
    )
    organizations = {c["organization_id"] for c in checks if "organization_id" in c} | {
        row.organization_id for row in lists.values() if row.organization_id is not None
    }
    in_org = OrganizationPermissions(organizations, set(platform))
    answers = []
    for check in checks:
        subject = check.get("user_id", caller_id)
        if subject not in platform or (
            "bucketlist_id" in check and check["permission"] not in ON_BUCKETLISTS
        ):
            answers.append(NOT_GRANTED)
        elif "bucketlist_id" in check:
            row = lists.get(check["bucketlist_id"])
            answers.append(
                on_bucketlist(check["permission"], row, caller_id, subject, platform, in_org)
            )
        elif "organization_id" in check:
            organization_id = check["organization_id"]
            visible = in_org.sees(organization_id, caller_id, mine)
            held = in_org.of(organization_id, subject)
            answers.append(GRANTED if visible and check["permission"] in held else NOT_GRANTED)
        else:
            answers.append(GRANTED if check["permission"] in platform[subject] else NOT_GRANTED)
    return answers


def on_bucketlist(permission, row, caller_id, subject, platform, in_org) -> dict:
    """A bucketlist check: its owner, whoever may use the ``_all`` permission, or for an
    organization's list its members who hold the permission there; only when the caller may
    see the list."""
    if row is None:
        return NOT_GRANTED
    any_list = ON_BUCKETLISTS[permission]
    caller_sees_all = bool(set(ON_BUCKETLISTS.values()) & platform[caller_id])
    if row.organization_id is None:
        visible = row.owner_id == caller_id or caller_sees_all
        by_owner = row.owner_id == subject
    else:
        visible = caller_sees_all or BUCKETLISTS_READ in in_org.of(row.organization_id, caller_id)
        by_owner = permission in in_org.of(row.organization_id, subject)
    allowed = any_list in platform[subject] or (
        by_owner and (row.organization_id is not None or permission in platform[subject])
    )
    return GRANTED if visible and allowed else NOT_GRANTED


def in_my_organizations(user_id: int) -> list[dict]:
    """``{id, slug, roles, permissions}`` of each organization the request's token reaches."""
    statement = (
        select(Membership).where(Membership.user_id == user_id).order_by(Membership.organization_id)
    )
    bound = g.get("token_organization_id")
    if bound is not None:
        statement = statement.where(Membership.organization_id == bound)
    memberships = db.session.scalars(statement).all()
    in_org = OrganizationPermissions({m.organization_id for m in memberships}, {user_id})
    scopes = g.get("token_scopes")
    usable = permissions.within_scopes(scopes) if scopes is not None else None
    found = []
    for membership in memberships:
        held = in_org.of(membership.organization_id, user_id)
        found.append(
            {
                "id": membership.organization_id,
                "slug": membership.organization.slug,
                "roles": list(membership.roles),
                "permissions": sorted(held if usable is None else held & usable),
            }
        )
    return found


class OrganizationPermissions:
    """What each of ``users`` may do in each of ``organizations``, read in two statements."""

    def __init__(self, organizations: set[int], users: set[int]) -> None:
        self.memberships = {}
        self.custom: dict[tuple[int, str], set[str]] = {}
        if not organizations:
            return
        for row in db.session.execute(
            select(Membership.organization_id, Membership.user_id, Membership.roles).where(
                Membership.organization_id.in_(organizations), Membership.user_id.in_(users)
            )
        ):
            self.memberships[(row.organization_id, row.user_id)] = row.roles
        for row in db.session.execute(
            select(Role.organization_id, Role.name, RolePermission.permission)
            .outerjoin(RolePermission, RolePermission.role_id == Role.id)
            .where(Role.organization_id.in_(organizations))
        ):
            stored = self.custom.setdefault((row.organization_id, row.name), set())
            stored.update({row.permission} - {None})

    def of(self, organization_id: int, user_id: int) -> frozenset[str]:
        roles = self.memberships.get((organization_id, user_id))
        if roles is None:
            return frozenset()
        granted = set()
        for role in roles:
            # (An organization's change of its admin or member role is a row of that name.)
            granted |= self.custom.get((organization_id, role), BUILT_IN.get(role, set()))
        return frozenset(granted)

    def sees(self, organization_id: int, caller_id: int, mine) -> bool:
        """Whether the caller may learn anything about the organization: a member, or
        support staff."""
        staff = bool({ORGS_READ, ORGS_MANAGE} & set(mine))
        return (organization_id, caller_id) in self.memberships or staff
