"""Roles: listed to anyone signed in; made, changed and deleted by holders of ``roles:manage``,
never beyond their own permissions (``app.access.roles`` says each rule)."""

from flask import url_for
from flask.views import MethodView

from app.access import roles
from app.access.permissions import ROLES_MANAGE
from app.api.blueprint import Blueprint
from app.extensions import db
from app.models import Role
from app.pagination import Order, paginate
from app.schemas.common import ErrorSchema
from app.schemas.role import (
    RoleCreateSchema,
    RoleListArgsSchema,
    RolePageSchema,
    RoleSchema,
    RoleUpdateSchema,
)

blp = Blueprint(
    "roles",
    __name__,
    url_prefix="/roles",
    description="Roles: what each grants.",
    links={"roles": "roles.Roles"},
)

BY_NAME = Order((Role.name,))
NO_SUCH_ROLE = {"schema": ErrorSchema, "description": "not_found: no role has that name."}
UNKNOWN = "validation_error: an unknown permission (details.permissions)."


@blp.route("")
class Roles(MethodView):
    @blp.auth_required()
    @blp.list_arguments(RoleListArgsSchema)
    @blp.response(200, RolePageSchema)
    def get(self, args):
        """List the roles and what each grants, by name."""
        return paginate(roles.listing(), args, BY_NAME, RoleSchema)

    @blp.auth_required(ROLES_MANAGE)
    @blp.arguments(RoleCreateSchema)
    @blp.response(201, RoleSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="conflict: the name is taken.")
    def post(self, values):
        """Make a role (with none of the permissions you lack)."""
        role = roles.create(values["name"], values["description"], values["permissions"])
        db.session.commit()
        return role, 201, {"Location": url_for("roles.RoleByName", name=role.name)}


@blp.route("/<name>")
class RoleByName(MethodView):
    @blp.auth_required()
    @blp.alt_response(404, **NO_SUCH_ROLE)
    @blp.response(200, RoleSchema)
    def get(self, name: str):
        """Show a role and what it grants."""
        return roles.named(name)

    @blp.auth_required(ROLES_MANAGE)
    @blp.alt_response(404, **NO_SUCH_ROLE)
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="conflict: a built-in role's name, admin's permissions, or a taken name.",
    )
    @blp.arguments(RoleUpdateSchema)
    @blp.response(200, RoleSchema)
    def patch(self, changes, name: str):
        """Change a role's name, description or permissions: obeyed on every holder's next
        request, no session ends."""
        role = roles.change(roles.named(name), changes)
        db.session.commit()
        return role

    @blp.auth_required(ROLES_MANAGE)
    @blp.alt_response(404, **NO_SUCH_ROLE)
    @blp.alt_response(
        409, schema=ErrorSchema, description="conflict: built in, or an account has it."
    )
    @blp.response(204)
    def delete(self, name: str):
        """Delete a role nobody has (not a built-in one)."""
        roles.delete(roles.named(name))
        db.session.commit()
