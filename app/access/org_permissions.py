"""Who may do what in an organization: its members, through their organization roles.

- Organization roles grant organization-level permissions only (``ORGANIZATION_PERMISSIONS``):
  the built-in ``owner`` (all of them, for ever), ``admin`` (all but ``orgs:delete`` and
  ``owners:manage``) and ``member`` (``bucketlists:read``), defined here; and the roles an
  organization makes for itself (``Role`` rows with its id). An organization may change what
  its ``admin`` and ``member`` grant: the change is a ``Role`` row of that name.
- A permission held in an organization applies to that organization alone.
- To anyone who is not a member, every route of the organization answers 404, never 403 (no
  existence leak). Platform support staff are the exception: ``orgs:read`` sees every
  organization (its members, bucketlists and audit log; not its invitations or roles, whose
  routes need a permission that also changes them), ``orgs:manage``
  manages every one as its owners do; each request of theirs to an organization they are not a
  member of is written to that organization's audit log.
- A token bound to one organization (an access token with ``org_id``, a personal token made for
  it) reaches that organization only; a personal token's scopes limit what it may do there too.

Membership is read on every request: removing a member or changing their roles is obeyed on
their next request.
"""

from dataclasses import dataclass

from flask import g, request
from flask_praetorian import current_user_id
from sqlalchemy import insert, select
from sqlalchemy.orm import lazyload

from app.access import permissions
from app.access.permissions import (
    AUDIT_READ,
    BUCKETLISTS_READ,
    BUCKETLISTS_WRITE,
    MEMBERS_INVITE,
    MEMBERS_MANAGE,
    ORGS_DELETE,
    ORGS_MANAGE,
    ORGS_READ,
    ORGS_UPDATE,
    OWNERS_MANAGE,
    ROLES_MANAGE,
)
from app.errors import ApiError
from app.extensions import db
from app.models import AuditEvent, Membership, Organization, Role, RolePermission

ORGANIZATION_PERMISSIONS = frozenset(
    {
        ORGS_UPDATE,
        ORGS_DELETE,
        MEMBERS_MANAGE,
        MEMBERS_INVITE,
        OWNERS_MANAGE,
        ROLES_MANAGE,
        BUCKETLISTS_READ,
        BUCKETLISTS_WRITE,
        AUDIT_READ,
    }
)
OWNER = "owner"
BUILT_IN = {
    OWNER: ORGANIZATION_PERMISSIONS,
    "admin": ORGANIZATION_PERMISSIONS - {ORGS_DELETE, OWNERS_MANAGE},
    "member": frozenset({BUCKETLISTS_READ}),
}
BUILT_IN_DESCRIPTIONS = {
    OWNER: "Everything in the organization, deleting it and managing owners included.",
    "admin": "Everything in the organization but deleting it and managing owners.",
    "member": "Reads the organization's bucketlists.",
}
# What platform support staff may do in an organization they are not a member of.
STAFF_READING = frozenset({BUCKETLISTS_READ, AUDIT_READ})


@dataclass(frozen=True)
class OrgAccess:
    """The caller in one organization: their membership (None for staff who are not members),
    their roles there and what those let this request do."""

    organization: Organization
    membership: Membership | None
    permissions: frozenset[str]

    @property
    def roles(self) -> list[str]:
        return list(self.membership.roles) if self.membership else []


def of_roles(organization_id: int, role_names) -> frozenset[str]:
    """What ``role_names`` grant in the organization: ``owner`` from here, the others from the
    organization's roles (one query, only for names other than ``owner``); ``admin`` and
    ``member`` the organization has not changed grant what ``BUILT_IN`` says."""
    names = set(role_names)
    granted = set(BUILT_IN[OWNER]) if OWNER in names else set()
    names.discard(OWNER)
    if names:
        stored: dict[str, set[str]] = {}
        for name, permission in db.session.execute(
            select(Role.name, RolePermission.permission)
            # (equivalent mutant: no ON clause; SQLAlchemy infers it from role_id, the only link.)
            .outerjoin(RolePermission, RolePermission.role_id == Role.id)
            # (equivalent mutant: no name filter; the other roles are read, then never asked.)
            .where(Role.organization_id == organization_id, Role.name.in_(names))
        ):
            stored.setdefault(name, set()).update({permission} - {None})
        for name in names:
            granted |= stored.get(name, BUILT_IN.get(name, frozenset()))
    return frozenset(granted)


def not_found() -> ApiError:
    return ApiError(404, "not_found", "No organization of yours has that id.")


def access_to(organization_id: int) -> OrgAccess:
    """The request's caller in the organization (kept for the request in ``g``): a member, or
    platform staff; anyone else, and a token bound to another organization, gets 404."""
    cached = g.get("organization_access")
    if cached is not None and cached.organization.id == organization_id:
        return cached
    bound = g.get("token_organization_id")
    if bound is not None and bound != organization_id:
        raise not_found()
    row = db.session.execute(
        select(Organization, Membership)
        .outerjoin(
            Membership,
            (Membership.organization_id == Organization.id)
            & (Membership.user_id == current_user_id()),
        )
        .where(Organization.id == organization_id)
        # (Not the membership's own joined loads: an inner join there would drop a non-member's
        # row.)
        .options(lazyload(Membership.user), lazyload(Membership.organization))
    ).first()
    if row is None:
        raise not_found()
    organization, membership = row
    if membership is not None:
        held = of_roles(organization_id, membership.roles)
    elif permissions.holds(ORGS_MANAGE):
        held = ORGANIZATION_PERMISSIONS
    elif permissions.holds(ORGS_READ):
        held = STAFF_READING
    else:
        raise not_found()
    scopes = g.get("token_scopes")
    if scopes is not None:
        held = held & permissions.within_scopes(scopes)
    access = OrgAccess(organization, membership, frozenset(held))
    g.organization_access = access
    if membership is None:
        record_staff_access(organization_id)
    return access


def require(access: OrgAccess, permission: str) -> None:
    """403 ``forbidden`` naming ``permission`` unless the caller may use it in the
    organization."""
    if permission not in access.permissions:
        raise permissions.forbidden([permission])


def record_staff_access(organization_id: int) -> None:
    """Write support staff's request to the organization's audit log, in a transaction of its
    own (a request that only reads runs without one)."""
    with db.engine.begin() as connection:
        connection.execute(
            insert(AuditEvent).values(
                actor_id=current_user_id(),
                action="org.staff_access",
                # (equivalent mutant: target_id left out; the column has no default: NULL too.)
                target_id=None,
                organization_id=organization_id,
                changes={"request": [None, f"{request.method} {request.path}"]},
                request_id=g.get("request_id"),
                server_request_id=g.get("server_request_id"),
            )
        )
