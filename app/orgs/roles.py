"""Roles an organization makes for itself, from organization-level permissions only.

The built-in ``owner``, ``admin`` and ``member`` (``app.access.org_permissions``) are always
there, shown as roles of every organization: they cannot be deleted or renamed, their names are
taken, and ``owner``'s permissions cannot be changed (409). An organization may change what its
``admin`` and ``member`` grant (and their description): the first change stores the role as a
row of the organization, which from then on is what the name grants there.

An organization has at most ``MAX_CUSTOM`` roles of its own (the next: 409 naming the limit),
named like platform roles and unique within it; one still held by a member, or offered by a
pending invitation, is not deleted (409), and a renamed one is renamed in both. Nobody makes,
changes or deletes a role granting a permission they do not hold in the organization (403
naming it). Each change moves the organization's version on
and is audited in its log (``role.created``, ``role.updated``, ``role.deleted``).
"""

from sqlalchemy import func, select

from app.access import permissions
from app.access.org_permissions import (
    BUILT_IN,
    BUILT_IN_DESCRIPTIONS,
    ORGANIZATION_PERMISSIONS,
    OWNER,
    OrgAccess,
)
from app.audit import record_event
from app.errors import ApiError
from app.extensions import db
from app.models import Invitation, Membership, Role
from app.models.columns import utcnow
from app.orgs.organizations import touch

MAX_CUSTOM = 50


def built_in(name: str) -> dict:
    return {
        "name": name,
        "description": BUILT_IN_DESCRIPTIONS[name],
        "permissions": sorted(BUILT_IN[name]),
        "built_in": True,
    }


def view(role: Role) -> dict:
    return {
        "name": role.name,
        "description": role.description,
        "permissions": role.permissions,
        "built_in": role.name in BUILT_IN,
    }


def own(organization_id: int):
    """SQL: the organization's roles it made or changed (for their list)."""
    return select(Role).where(Role.organization_id == organization_id)


def named(organization_id: int, name: str) -> dict | Role:
    """The organization's role of that name: its row (one it made, or a built-in one it
    changed), or a built-in role's view (404: none, or another organization's)."""
    role = None
    if name != OWNER:
        role = db.session.scalar(
            select(Role).where(Role.organization_id == organization_id, Role.name == name)
        )
    if role is None and name in BUILT_IN:
        return built_in(name)
    if role is None:
        raise ApiError(404, "not_found", "This organization has no role of that name.")
    return role


def refuse_beyond(access: OrgAccess, *permission_sets) -> None:
    granted = set().union(*permission_sets)
    if outside := sorted(granted - ORGANIZATION_PERMISSIONS):
        raise ApiError(
            422,
            "validation_error",
            details={"permissions": [f"Not an organization permission: {', '.join(outside)}."]},
        )
    if missing := granted - access.permissions:
        raise permissions.forbidden(missing)


def refuse_taken(organization_id: int, name: str) -> None:
    if name in BUILT_IN or db.session.scalar(
        select(Role.id).where(Role.organization_id == organization_id, Role.name == name)
    ):
        raise ApiError(409, "conflict", "The organization already has a role of that name.")


def create(access: OrgAccess, name: str, description: str, granted: list[str]) -> Role:
    organization_id = access.organization.id
    refuse_beyond(access, set(granted))
    refuse_taken(organization_id, name)
    count = db.session.scalar(
        select(func.count()).where(
            Role.organization_id == organization_id, Role.name.not_in(list(BUILT_IN))
        )
    )
    if count >= MAX_CUSTOM:
        raise ApiError(
            409,
            "conflict",
            f"The organization has {MAX_CUSTOM} roles of its own, the most it may have.",
        )
    role = Role(name=name, description=description, organization_id=organization_id)
    role.grant_only(granted)
    db.session.add(role)
    db.session.flush()
    touch(organization_id)
    record_event(
        "role.created",
        None,
        {"role": [None, name], "permissions": [None, role.permissions]},
        organization_id,
    )
    return role


def stored(organization_id: int, role) -> Role:
    """The role as a row of the organization: a built-in one it has not changed yet becomes
    one, granting what it granted."""
    if isinstance(role, Role):
        return role
    row = Role(name=role["name"], description=role["description"], organization_id=organization_id)
    row.grant_only(role["permissions"])
    db.session.add(row)
    return row


def change(access: OrgAccess, role, changes: dict) -> Role:
    before = role if isinstance(role, dict) else view(role)
    name = before["name"]
    if name == OWNER and set(changes.get("permissions", before["permissions"])) != set(
        before["permissions"]
    ):
        raise ApiError(409, "conflict", "owner holds every permission of the organization.")
    if before["built_in"] and changes.get("name", name) != name:
        raise ApiError(409, "conflict", f"{name} is built in: it keeps its name.")
    refuse_beyond(access, set(before["permissions"]), set(changes.get("permissions", ())))
    if name == OWNER or not (changes.keys() & {"name", "description", "permissions"}):
        return role
    organization_id = access.organization.id
    role = stored(organization_id, role)
    if "name" in changes and changes["name"] != role.name:
        refuse_taken(organization_id, changes["name"])
        # Members hold the new name, and pending invitations offer it: none keeps a name the
        # organization no longer has (a role made later under it would grant itself to them).
        for model in (Membership, Invitation):
            holders = db.session.scalars(
                select(model).where(
                    model.organization_id == organization_id, model.roles.contains([role.name])
                )
            ).all()
            for holder in holders:
                holder.roles = sorted(
                    {changes["name"] if name == role.name else name for name in holder.roles}
                )
        role.name = changes["name"]
    role.describe_and_grant(changes)
    db.session.flush()
    after = view(role)
    if after != before:
        touch(organization_id)
        record_event(
            "role.updated",
            None,
            {key: [before[key], after[key]] for key in after if before[key] != after[key]},
            organization_id,
        )
    return role


def delete(access: OrgAccess, role) -> None:
    if isinstance(role, dict) or role.name in BUILT_IN:
        raise ApiError(409, "conflict", "A built-in role is not deleted.")
    refuse_beyond(access, set(role.permissions))
    if db.session.scalar(
        select(Membership.id).where(
            Membership.organization_id == role.organization_id,
            Membership.roles.contains([role.name]),
        )
    ):
        raise ApiError(409, "conflict", "Members still have this role: take it from them first.")
    if db.session.scalar(
        select(Invitation.id).where(
            Invitation.organization_id == role.organization_id,
            Invitation.roles.contains([role.name]),
            Invitation.expires_at > utcnow(),
        )
    ):
        raise ApiError(409, "conflict", "Pending invitations offer this role: revoke them first.")
    touch(role.organization_id)
    record_event(
        "role.deleted",
        None,
        {"role": [role.name, None], "permissions": [role.permissions, None]},
        role.organization_id,
    )
    db.session.delete(role)
