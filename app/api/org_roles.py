"""An organization's own roles, and its audit log. The rules are ``app.orgs.roles``."""

from flask import url_for
from flask.views import MethodView
from sqlalchemy import select

from app.access.org_permissions import access_to
from app.access.permissions import AUDIT_READ, ROLES_MANAGE
from app.api.blueprint import Blueprint
from app.extensions import db
from app.models import AuditEvent, Role
from app.orgs import roles
from app.pagination import Order, paginate
from app.schemas.audit import AuditEventPageSchema, AuditEventSchema, AuditListArgsSchema
from app.schemas.common import ErrorSchema
from app.schemas.organization import OrgRoleCreateSchema, OrgRoleUpdateSchema
from app.schemas.role import RoleListArgsSchema, RolePageSchema, RoleSchema

blp = Blueprint(
    "org_roles",
    __name__,
    url_prefix="/orgs/<int:org_id>",
    description="Organizations' own roles and audit logs.",
)

BY_NAME = Order((Role.name, Role.id))
NEWEST_FIRST = Order((AuditEvent.id,), descending=True)
FILTERS = ("actor_id", "target_id", "action")
NO_SUCH_ROLE = {"schema": ErrorSchema, "description": "not_found: no role of that name here."}
CONFLICT = {
    "schema": ErrorSchema,
    "description": "conflict: renaming or deleting a built-in role, changing owner's "
    "permissions, a taken name, the 50 roles' limit, or a role a member has or a pending "
    "invitation offers.",
}


@blp.route("/roles")
class OrganizationRoles(MethodView):
    @blp.org_access(ROLES_MANAGE)
    @blp.list_arguments(RoleListArgsSchema)
    @blp.response(200, RolePageSchema)
    def get(self, args, org_id: int):
        """List the roles the organization made, and the built-in ones it changed.

        The built-in ``owner``, ``admin`` and ``member`` are always there: one the organization
        has not changed is shown by its name's URL."""
        return paginate(roles.own(org_id), args, BY_NAME, RoleSchema)

    @blp.org_access(ROLES_MANAGE)
    @blp.arguments(OrgRoleCreateSchema)
    @blp.response(201, RoleSchema)
    @blp.alt_response(409, **CONFLICT)
    def post(self, values, org_id: int):
        """Make a role of the organization's own, from organization permissions."""
        role = roles.create(
            access_to(org_id), values["name"], values["description"], values["permissions"]
        )
        db.session.commit()
        location = url_for("org_roles.OrganizationRoleByName", org_id=org_id, name=role.name)
        return roles.view(role), 201, {"Location": location}


@blp.route("/roles/<name>")
class OrganizationRoleByName(MethodView):
    @blp.org_access(ROLES_MANAGE)
    @blp.alt_response(404, **NO_SUCH_ROLE)
    @blp.response(200, RoleSchema)
    def get(self, org_id: int, name: str):
        """Show a role of the organization (a built-in one too)."""
        role = roles.named(org_id, name)
        return role if isinstance(role, dict) else roles.view(role)

    @blp.org_access(ROLES_MANAGE)
    @blp.alt_response(404, **NO_SUCH_ROLE)
    @blp.alt_response(409, **CONFLICT)
    @blp.arguments(OrgRoleUpdateSchema)
    @blp.response(200, RoleSchema)
    def patch(self, changes, org_id: int, name: str):
        """Change a role of the organization: obeyed on its holders' next request.

        A built-in role keeps its name, and ``owner`` its permissions; ``admin`` and ``member``
        may grant other organization permissions here."""
        role = roles.change(access_to(org_id), roles.named(org_id, name), changes)
        db.session.commit()
        return roles.view(role)

    @blp.org_access(ROLES_MANAGE)
    @blp.alt_response(404, **NO_SUCH_ROLE)
    @blp.alt_response(409, **CONFLICT)
    @blp.response(204)
    def delete(self, org_id: int, name: str):
        """Delete one of the organization's own roles that no member has and no pending
        invitation offers."""
        roles.delete(access_to(org_id), roles.named(org_id, name))
        db.session.commit()


@blp.route("/audit-events")
@blp.org_access(AUDIT_READ)
@blp.list_arguments(AuditListArgsSchema)
@blp.response(200, AuditEventPageSchema)
def organization_audit_events(filters, org_id: int):
    """The organization's audit log, newest first (support staff's visits included)."""
    statement = select(AuditEvent).where(AuditEvent.organization_id == org_id)
    for name in FILTERS:
        if name in filters:
            statement = statement.where(getattr(AuditEvent, name) == filters[name])
    return paginate(statement, filters, NEWEST_FIRST, AuditEventSchema)
