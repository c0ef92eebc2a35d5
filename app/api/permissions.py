"""Permissions: the catalog, what the caller may do, and checks for other services."""

from flask_praetorian import current_user_id
from sqlalchemy import select

from app.access import checks, permissions
from app.access.permissions import SESSION
from app.api.blueprint import Blueprint
from app.models import StoredPermission
from app.pagination import Order, paginate
from app.schemas.role import (
    AuthzAnswerSchema,
    AuthzCheckSchema,
    MyPermissionsSchema,
    PermissionListArgsSchema,
    PermissionPageSchema,
    PermissionSchema,
)

blp = Blueprint(
    "permissions",
    __name__,
    url_prefix="/",
    description="Permissions: the catalog, yours, and checks.",
    links={"permissions": "permissions.list_permissions", "authz_check": "permissions.check"},
)

BY_NAME = Order((StoredPermission.name,))


@blp.route("permissions")
@blp.auth_required()
@blp.list_arguments(PermissionListArgsSchema)
@blp.response(200, PermissionPageSchema)
def list_permissions(args):
    """List every permission a role or a personal token can have, with what it allows."""
    return paginate(select(StoredPermission), args, BY_NAME, PermissionSchema)


@blp.route("users/me/permissions")
@blp.auth_required()
@blp.response(200, MyPermissionsSchema)
def my_permissions():
    """What this token may do now: on the platform, and in each of your organizations."""
    return {
        "platform": sorted(permissions.granted() - {SESSION}),
        "organizations": checks.in_my_organizations(current_user_id()),
    }


@blp.route("authz/check", methods=["POST"])
@blp.auth_required()
@blp.arguments(AuthzCheckSchema)
@blp.response(200, AuthzAnswerSchema)
def check(payload):
    """Ask whether someone (default: you) may use permissions, on the platform or on an object:
    1 to 100 checks, answered in order, never revealing what you may not see."""
    return {"results": checks.decide(current_user_id(), payload["checks"])}
