"""Roles as data: made, changed and deleted through the API by holders of ``roles:manage``, and
given to accounts by holders of ``users:write``, never beyond what the one who does it holds.

- A role is ``{name, description, permissions, built_in}``. ``admin``, ``operator`` and ``user``
  are built in: never deleted or renamed; ``admin`` grants every permission and is not edited.
- No escalation: making, changing or deleting a role needs every permission it grants, before
  and after the change; giving an account roles needs every permission they grant; changing,
  deactivating, deleting or resetting an account needs every permission it holds. Refusals are
  403 ``forbidden`` with ``details.permissions`` naming each one lacking.
- A role an account still has is not deleted (409). An unknown role is 422 (an unknown
  permission is refused by the schemas).
- Every change is audited (``role.created``, ``role.updated``, ``role.deleted``) and moves the
  authorization version on in its transaction: every worker obeys it on its next request, no
  session ends (a change of an account's roles ends its sessions, as it always did).
"""

from sqlalchemy import func, select, update

from app.access import permissions
from app.audit import record_event
from app.errors import ApiError
from app.extensions import db
from app.models import AuthorizationVersion, Role, User

ADMIN = permissions.ADMIN
# Platform roles (an organization's own have its id).
PLATFORM = Role.organization_id.is_(None)


def view(role: Role) -> dict:
    """What the API shows of a role (``admin``: every permission of the catalog)."""
    granted = sorted(permissions.CATALOG) if role.name == ADMIN else role.permissions
    return {
        "name": role.name,
        "description": role.description,
        "permissions": granted,
        "built_in": role.built_in,
    }


def named(name: str) -> Role:
    role = db.session.scalar(select(Role).where(PLATFORM, Role.name == name))
    if role is None:
        raise ApiError(404, "not_found", "No role has that name.")
    return role


def listing():
    """SQL: every role (for its list)."""
    return select(Role).where(PLATFORM)


def refuse_unknown_roles(names) -> None:
    """422 naming the roles in ``names`` that do not exist."""
    known = set(db.session.scalars(select(Role.name).where(PLATFORM, Role.name.in_(set(names)))))
    unknown = sorted(set(names) - known)
    if unknown:
        raise ApiError(
            422,
            "validation_error",
            details={"roles": [f"No such role: {', '.join(unknown)} (GET /roles)."]},
        )


def refuse_organization_only(granted) -> None:
    """422 for a permission that is held in an organization only (through its roles)."""
    if inside := sorted(set(granted) & permissions.ORGANIZATION_ONLY):
        raise ApiError(
            422,
            "validation_error",
            details={"permissions": [f"Held in an organization only: {', '.join(inside)}."]},
        )


def actor_holds() -> frozenset[str]:
    """What the account making the request holds (its roles' permissions, whatever its token's
    scopes: a personal token already had to be given the permission of the route)."""
    return frozenset(permissions.roles_granted()) - {permissions.SESSION}


def refuse_escalation(*needed) -> None:
    """403 ``forbidden`` naming every permission in ``needed`` (sets) the actor lacks."""
    missing = set().union(*needed) - actor_holds()
    if missing:
        raise permissions.forbidden(missing)


def grants(role_names) -> frozenset[str]:
    return permissions.of_roles(role_names, permissions.current_version())


def moved_on() -> None:
    """Every worker reloads what roles grant on its next request."""
    db.session.execute(
        update(AuthorizationVersion).values(version=AuthorizationVersion.version + 1)
    )


def create(name: str, description: str, granted: list[str]) -> Role:
    refuse_organization_only(granted)
    refuse_escalation(set(granted))
    if db.session.scalar(select(func.count()).where(PLATFORM, Role.name == name)):
        raise ApiError(409, "conflict", "A role already has that name.")
    role = Role(name=name, description=description)
    role.grant_only(granted)
    db.session.add(role)
    db.session.flush()
    moved_on()
    record_event(
        "role.created",
        None,
        {"role": [None, name], "permissions": [None, sorted(set(granted))]},
    )
    return role


def change(role: Role, changes: dict) -> Role:
    """Change a role's name (not a built-in's), description or permissions (not ``admin``'s)."""
    before = view(role)
    if "permissions" in changes and role.name == ADMIN:
        raise ApiError(409, "conflict", "admin grants every permission: it is not edited.")
    refuse_organization_only(changes.get("permissions", ()))
    refuse_escalation(set(before["permissions"]), set(changes.get("permissions", ())))
    if "name" in changes and changes["name"] != role.name:
        rename(role, changes["name"])
    role.describe_and_grant(changes)
    db.session.flush()
    after = view(role)
    if after != before:
        moved_on()
        record_event(
            "role.updated",
            None,
            {key: [before[key], after[key]] for key in after if before[key] != after[key]},
        )
    return role


def rename(role: Role, new_name: str) -> None:
    """A custom role's new name, in the accounts that have it too (their roles do not change,
    so their sessions go on)."""
    if role.built_in:
        raise ApiError(409, "conflict", f"{role.name} is built in: it keeps its name.")
    if db.session.scalar(select(func.count()).where(PLATFORM, Role.name == new_name)):
        raise ApiError(409, "conflict", "A role already has that name.")
    holders = db.session.scalars(select(User).where(User.has_role(role.name))).all()
    for user in holders:
        user.rolenames = [new_name if name == role.name else name for name in user.rolenames]
    role.name = new_name


def delete(role: Role) -> None:
    """Delete a custom role nobody has."""
    if role.built_in:
        raise ApiError(409, "conflict", f"{role.name} is built in: it cannot be deleted.")
    refuse_escalation(set(role.permissions))
    if db.session.scalar(select(func.count()).where(User.has_role(role.name))):
        raise ApiError(409, "conflict", "Accounts still have this role: take it from them first.")
    granted = role.permissions
    db.session.delete(role)
    moved_on()
    record_event("role.deleted", None, {"role": [role.name, None], "permissions": [granted, None]})
