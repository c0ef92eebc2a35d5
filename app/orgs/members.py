"""Members of an organization: listed (``?role=``, ``?q=``), their roles changed, removed, or
leaving. An organization always keeps an owner.

- Changing a member's roles, and removing a member, needs ``members:manage``; making, demoting
  or removing an owner needs ``owners:manage`` too; nobody grants a role carrying a permission
  they do not hold in the organization (403 naming it). Leaving needs nothing.
- The last owner is never removed, demoted or deleted with their account (409), even when two
  such requests race: each locks the organization's row before it counts the owners.
- A change ends no session: the member's next request is answered by the new roles (removed:
  404 on the organization's routes; tokens bound to it: 401). Each change is audited
  (``membership.updated``, ``membership.removed``) in the organization's log.
"""

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import lazyload

from app.access import permissions
from app.access.org_permissions import BUILT_IN, OWNER, OrgAccess, of_roles
from app.access.permissions import MEMBERS_MANAGE, OWNERS_MANAGE
from app.audit import record_event
from app.errors import ApiError
from app.extensions import db
from app.identity import canonical
from app.models import Membership, Organization, Role, User
from app.orgs.organizations import delete as delete_organization
from app.orgs.organizations import touch


def listing(organization: Organization, filters: dict, with_email: bool):
    """SQL: the organization's members (``role``: holding it; ``q``: part of the username, or of
    the e-mail for who may see addresses, ignoring case, ``%`` and ``_`` as they are); and the
    total, read from the organization when the list is not filtered."""
    statement = (
        select(Membership)
        .where(Membership.organization_id == organization.id)
        .options(lazyload(Membership.organization))
    )
    if "role" in filters:
        statement = statement.where(Membership.roles.contains([filters["role"]]))
    if "q" in filters:
        text = canonical(filters["q"])
        matches = User.lowered_username.contains(text, autoescape=True)
        if with_email:
            matches |= func.lower(User.email).contains(text, autoescape=True)
        statement = statement.where(Membership.user_id.in_(select(User.user_id).where(matches)))
    unfiltered = not ({"role", "q"} & set(filters))
    total = (
        select(Organization.member_count)
        .where(Organization.id == organization.id)
        .scalar_subquery()
        if unfiltered
        else None
    )
    return statement, total


def member(organization: Organization, user_id: int) -> Membership:
    """That user's membership of this organization; 404 (another organization's member too)."""
    found = db.session.scalar(
        select(Membership).where(
            Membership.organization_id == organization.id, Membership.user_id == user_id
        )
    )
    if found is None:
        raise ApiError(404, "not_found", "No member of this organization has that id.")
    return found


def refuse_unknown_roles(organization_id: int, names) -> None:
    """422 naming the organization roles in ``names`` that neither are built in nor the
    organization's own."""
    custom = set(names) - set(BUILT_IN)
    known = set(
        db.session.scalars(
            select(Role.name).where(Role.organization_id == organization_id, Role.name.in_(custom))
        )
    )
    if unknown := sorted(custom - known):
        raise ApiError(
            422,
            "validation_error",
            details={"roles": [f"No such role in this organization: {', '.join(unknown)}."]},
        )


def refuse_escalation(access: OrgAccess, *role_sets) -> None:
    """403 naming what the roles in ``role_sets`` grant in the organization that the caller
    does not hold there (giving or taking them is granting)."""
    needed = set().union(*(of_roles(access.organization.id, roles) for roles in role_sets))
    if any(OWNER in roles for roles in role_sets):
        needed.add(OWNERS_MANAGE)
    if missing := needed - access.permissions:
        raise permissions.forbidden(missing)


def lock_owners(organization_id: int) -> int:
    """Lock the organization's row (every change of owners waits here, so two at once are
    served one after the other), then count its owners."""
    db.session.execute(
        select(Organization.id).where(Organization.id == organization_id).with_for_update()
    )
    return db.session.scalar(
        select(func.count()).where(
            Membership.organization_id == organization_id, Membership.roles.contains([OWNER])
        )
    )


def refuse_last_owner(organization_id: int, membership: Membership) -> None:
    if OWNER in membership.roles and lock_owners(organization_id) <= 1:
        raise ApiError(
            409,
            "conflict",
            "The organization's last owner cannot be removed, demoted or deleted: make "
            "another member an owner first.",
        )


def change_roles(access: OrgAccess, membership: Membership, roles: list[str]) -> Membership:
    """A member's new roles (the route needs ``members:manage``)."""
    organization_id = access.organization.id
    refuse_unknown_roles(organization_id, roles)
    before = list(membership.roles)
    if set(before) == set(roles):
        return membership
    refuse_escalation(access, before, roles)
    if OWNER not in roles:
        refuse_last_owner(organization_id, membership)
    db.session.refresh(membership, with_for_update=True)
    membership.roles = sorted(set(roles))
    touch(organization_id)
    record_event(
        "membership.updated",
        membership.user_id,
        {"roles": [before, membership.roles]},
        organization_id,
    )
    return membership


def remove(access: OrgAccess, membership: Membership) -> None:
    """Remove a member (``members:manage``), or let one leave."""
    organization_id = access.organization.id
    leaving = access.membership is not None and access.membership.id == membership.id
    if not leaving:
        if MEMBERS_MANAGE not in access.permissions:
            raise permissions.forbidden([MEMBERS_MANAGE])
        refuse_escalation(access, membership.roles)
    refuse_last_owner(organization_id, membership)
    end_membership(organization_id, membership.user_id, membership.roles)


def end_membership(organization_id: int, user_id: int, roles: list[str]) -> None:
    db.session.execute(
        delete(Membership).where(
            Membership.organization_id == organization_id, Membership.user_id == user_id
        )
    )
    db.session.execute(
        update(Organization)
        .where(Organization.id == organization_id)
        .values(member_count=Organization.member_count - 1, version=Organization.version + 1)
    )
    record_event("membership.removed", user_id, {"roles": [roles, None]}, organization_id)


def join(organization_id: int, user_id: int, roles: list[str]) -> Membership:
    """A new member (an accepted invitation); 409 for one already a member."""
    if db.session.scalar(
        select(Membership.id).where(
            Membership.organization_id == organization_id, Membership.user_id == user_id
        )
    ):
        raise ApiError(409, "conflict", "You are a member of this organization already.")
    membership = Membership(organization_id=organization_id, user_id=user_id, roles=roles)
    db.session.add(membership)
    db.session.execute(
        update(Organization)
        .where(Organization.id == organization_id)
        .values(member_count=Organization.member_count + 1, version=Organization.version + 1)
    )
    db.session.flush()
    record_event("membership.added", user_id, {"roles": [None, roles]}, organization_id)
    return membership


def leave_all_for_deletion(user_id: int) -> None:
    """Before an account is deleted: 409 while it is the last owner of an organization that has
    other members; an organization where it is the only member is deleted with it; from every
    other one it leaves."""
    memberships = db.session.scalars(
        select(Membership).where(Membership.user_id == user_id).order_by(Membership.id)
    ).all()
    for membership in memberships:
        organization = db.session.get(Organization, membership.organization_id)
        owners = lock_owners(organization.id) if OWNER in membership.roles else None
        if organization.member_count <= 1:
            delete_organization(organization)
            continue
        if owners is not None and owners <= 1:
            raise ApiError(
                409,
                "conflict",
                f"This account is the last owner of the organization {organization.slug}, "
                "which has other members: make another member an owner first.",
            )
        end_membership(organization.id, user_id, membership.roles)
