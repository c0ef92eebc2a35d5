"""Permissions: what a request may do, the one vocabulary of roles and personal tokens.

- **The catalog** is declared in code (``declare``), next to what it guards: the core permissions
  here, a resource's own in its blueprint module. Migrations write it to the ``permissions``
  table, and ``verify_catalog`` refuses to start a server (and ``flask init-db`` to finish) while
  the two differ.
- **Roles grant permissions** (``app.models.role``); ``admin`` grants every permission of the
  catalog, new ones included.
- **A request's permissions** (``granted``): for a session's access token, those of its user's
  roles now, and ``session`` (the token kind that manages sessions, passwords and factors); for
  a personal token, its scopes, with the permissions declared ``within`` them, that its user's
  roles grant now. A deactivated account holds none (it is refused before).
- **Current in every worker on the next request**: what roles grant is kept per process, keyed
  by the authorization version that the token's statement reads (``app.models.user``); a change
  of any role moves the version on in its transaction, and the next request in each worker
  reloads, one query.

A route names the permission it needs in its access decorator (``app/api/blueprint.py``), which
enforces and documents it: 403 ``forbidden`` naming it when the account's roles do not grant it,
403 ``insufficient_scope`` (RFC 6750's challenge) when they do but a personal token was not given
it.
"""

import threading
from dataclasses import dataclass

from flask import g
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError

from app.config import ConfigError
from app.errors import ApiError
from app.extensions import db
from app.models.role import AuthorizationVersion, Role, RolePermission, StoredPermission

SESSION = "session"
ADMIN = "admin"


@dataclass(frozen=True)
class Permission:
    """A permission of the catalog. ``within``: a personal token given that scope may use this
    permission too, when its holder's roles grant it (as a token given ``users:read`` reads the
    admin view of users when its holder is staff)."""

    name: str
    description: str
    within: str | None = None


CATALOG: dict[str, Permission] = {}


def declare(name: str, description: str, within: str | None = None) -> str:
    """Add a permission to the catalog (once; the same declaration again is allowed); its name,
    for the access decorators."""
    permission = Permission(name, description, within)
    if CATALOG.setdefault(name, permission) != permission:
        raise RuntimeError(f"The permission {name} is declared twice, differently.")
    return name


PROFILE = declare("profile", "Read and change one's own profile.")
USERS_READ = declare("users:read", "Read the user directory (the public view of users).")
USERS_INSPECT = declare(
    "users:inspect",
    "See every account's details: the admin view of users, their sessions and personal tokens.",
    within=USERS_READ,
)
USERS_WRITE = declare(
    "users:write", "Create, change and delete accounts, reset their MFA, end their sessions."
)
BUCKETLISTS_READ = declare("bucketlists:read", "Read one's bucketlists and their items.")
BUCKETLISTS_READ_ALL = declare(
    "bucketlists:read_all", "Read anyone's bucketlists and items.", within=BUCKETLISTS_READ
)
BUCKETLISTS_WRITE = declare(
    "bucketlists:write", "Create, change and delete one's bucketlists and items."
)
BUCKETLISTS_WRITE_ALL = declare(
    "bucketlists:write_all",
    "Change and delete anyone's bucketlists and items.",
    within=BUCKETLISTS_WRITE,
)
AUDIT_READ = declare("audit:read", "Read the audit trail.")
ROLES_MANAGE = declare(
    "roles:manage", "Create, change and delete roles (never beyond one's own permissions)."
)
ORGS_READ = declare(
    "orgs:read", "See every organization, its members and its audit log (support staff)."
)
ORGS_MANAGE = declare("orgs:manage", "Manage every organization as its owners do (support staff).")
# Held in an organization only (through its roles: app.access.org_permissions).
ORGS_UPDATE = declare("orgs:update", "In an organization: change its name and slug.")
ORGS_DELETE = declare("orgs:delete", "In an organization: delete it.")
MEMBERS_MANAGE = declare(
    "members:manage", "In an organization: change members' roles and remove members."
)
MEMBERS_INVITE = declare(
    "members:invite", "In an organization: invite people and revoke invitations."
)
OWNERS_MANAGE = declare("owners:manage", "In an organization: make, demote and remove owners.")
ORGANIZATION_ONLY = frozenset(
    {ORGS_UPDATE, ORGS_DELETE, MEMBERS_MANAGE, MEMBERS_INVITE, OWNERS_MANAGE}
)


class _Grants:
    """What each role grants, as of one authorization version."""

    def __init__(self, version: int | None, by_role: dict[str, frozenset[str]]) -> None:
        self.version = version
        self.by_role = by_role


_grants = _Grants(None, {})
_reloading = threading.Lock()


def _current_grants(version: int) -> _Grants:
    """The grants of ``version``, reloaded (one query) when this process knows an older one."""
    global _grants
    if _grants.version == version:
        return _grants
    with _reloading:
        if _grants.version != version:
            rows = db.session.execute(
                select(Role.name, RolePermission.permission)
                .outerjoin(RolePermission, RolePermission.role_id == Role.id)
                .where(Role.organization_id.is_(None))
            ).all()
            by_role: dict[str, set[str]] = {}
            for role, permission in rows:
                by_role.setdefault(role, set())
                if permission is not None:
                    by_role[role].add(permission)
            _grants = _Grants(version, {role: frozenset(held) for role, held in by_role.items()})
    return _grants


def of_roles(roles, version: int) -> frozenset[str]:
    """The permissions ``roles`` grant (a name no role has grants nothing)."""
    if ADMIN in roles:
        return frozenset(CATALOG)
    by_role = _current_grants(version).by_role
    return frozenset().union(*(by_role.get(role, frozenset()) for role in roles))


def current_version() -> int:
    """The authorization version now (for a check outside a token's statement)."""
    return db.session.scalar(select(AuthorizationVersion.version))


def request_version() -> int:
    """The authorization version the request's token statement read (what its own permissions
    were resolved at), or the version now for a request without one."""
    version = g.get("authorization_version")
    # (equivalent mutant: "and False"; only /authz/check asks, after app.access.bearer, whose
    # both paths set the version from the token's statement.)
    return current_version() if version is None else version


def of_account(user) -> frozenset[str]:
    """What ``user``'s roles grant now; nothing for an account that may not sign in."""
    if not user.may_sign_in:
        return frozenset()
    # (equivalent mutant: version None; only the request's own account is asked, after
    # app.access.bearer loaded the grants of a version, so None differs and they are reloaded.)
    return of_roles(user.rolenames, current_version())


def within_scopes(scopes) -> set[str]:
    """A personal token's scopes and the permissions declared within them."""
    given = set(scopes)
    return given | {name for name, p in CATALOG.items() if p.within in given}


def granted() -> frozenset[str]:
    """The permissions of the request's bearer token (set by ``app.access.bearer``)."""
    return g.get("authenticated_permissions", frozenset())


def roles_granted() -> frozenset[str]:
    """What the roles of the request's account grant (a personal token may use less)."""
    return g.get("authenticated_role_permissions", frozenset())


def holds(permission: str) -> bool:
    return permission in granted()


def require(permission: str) -> None:
    """403 unless the request's token may use ``permission``: ``insufficient_scope`` (RFC 6750's
    challenge) when the token is what lacks it (a personal token not given it, or not a session's
    token for ``session``), else ``forbidden`` naming it."""
    if holds(permission):
        return
    if permission == SESSION or permission in roles_granted():
        challenge = f'Bearer error="insufficient_scope", scope="{permission}"'
        raise ApiError(
            403,
            "insufficient_scope",
            f"This token's scopes do not cover this request: it needs {permission}"
            + (" (a session's token: sign in)." if permission == SESSION else "."),
            headers={"WWW-Authenticate": challenge},
        )
    raise forbidden([permission])


def forbidden(missing) -> ApiError:
    """403 ``forbidden`` naming the permissions the caller lacks."""
    names = sorted(missing)
    return ApiError(
        403,
        "forbidden",
        f"This needs the permission{'s' if len(names) > 1 else ''} {', '.join(names)}.",
        {"permissions": names},
    )


def verify_catalog() -> None:
    """The catalog declared in code and the ``permissions`` table must be the same: a permission
    declared but not migrated, migrated but declared nowhere, or described differently, is a
    ConfigError that says which and what to do."""
    stored = dict(
        db.session.execute(select(StoredPermission.name, StoredPermission.description)).all()
    )
    declared = {name: permission.description for name, permission in CATALOG.items()}
    problems = []
    if missing := sorted(set(declared) - set(stored)):
        problems.append(
            f"declared in code but not in the database: {', '.join(missing)} "
            "(add them in a migration, docs: Roles and permissions)"
        )
    if unknown := sorted(set(stored) - set(declared)):
        problems.append(
            f"in the database but declared nowhere in code: {', '.join(unknown)} "
            "(declare them, or remove them in a migration)"
        )
    if reworded := sorted(
        name for name in set(declared) & set(stored) if declared[name] != stored[name]
    ):
        problems.append(
            f"described differently in code and in the database: {', '.join(reworded)} "
            "(a migration updates the description)"
        )
    if problems:
        raise ConfigError("Permissions " + "; ".join(problems))


def check_catalog_at_start(app) -> None:
    """Verify the catalog when a server starts (not for the Flask commands, which may be about
    to migrate the database to it). A database that cannot be reached is not a reason to refuse
    to start (the server answers 503 until it is back): it is logged."""
    with app.app_context():
        try:
            verify_catalog()
        except (OperationalError, InterfaceError) as error:
            app.logger.warning(
                "the permissions catalog was not checked: %s", type(error.orig).__name__
            )
        except ProgrammingError:
            raise ConfigError(
                "The database has no permission catalog yet: migrate it first "
                "(flask --app app init-db)"
            ) from None
        finally:
            db.session.remove()
            # No connection of the pool may outlive this: gunicorn forks its workers from the
            # process that built the app, and a connection shared across a fork is corrupted.
            db.engine.dispose()
