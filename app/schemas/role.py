"""Roles and permissions as the API shows them, what making or changing a role takes, and the
questions ``POST /authz/check`` answers."""

from marshmallow import Schema, fields, validate

from app.access import permissions, roles
from app.schemas.base import RequestSchema
from app.schemas.common import PaginationArgsSchema, page_schema
from app.schemas.fields import permission_field, role_name_field

MAX_CHECKS = 100


def permission_names(among=None, excluding=frozenset(), outside=None, **kwargs) -> fields.List:
    return fields.List(
        permission_field(among, excluding, outside),
        validate=validate.Length(max=200),
        metadata={"description": "Permissions by name (GET /permissions), sorted."},
        **kwargs,
    )


class PermissionSchema(Schema):
    """A permission of the catalog."""

    name = fields.String(metadata={"example": "users:read"})
    description = fields.String()


PermissionPageSchema = page_schema(PermissionSchema)


class PermissionListArgsSchema(PaginationArgsSchema):
    """Pages of the catalog, by name."""


class RoleSchema(Schema):
    """A role: what it is for and what it grants (admin: every permission)."""

    name = fields.String(metadata={"example": "support"})
    description = fields.String()
    permissions = fields.Method("granted", metadata={"type": "array", "items": {"type": "string"}})
    built_in = fields.Boolean()

    def granted(self, role) -> list[str]:
        """A role's permissions (an organization's built-in and own roles come as views)."""
        return role["permissions"] if isinstance(role, dict) else roles.view(role)["permissions"]


RolePageSchema = page_schema(RoleSchema)


class RoleListArgsSchema(PaginationArgsSchema):
    """Pages of roles, by name."""


# (Those held in an organization only, through its roles, are not a platform role's.)
PLATFORM_ONLY = {
    "excluding": permissions.ORGANIZATION_ONLY,
    "outside": "Held in an organization only: {input}.",
}


class RoleCreateSchema(RequestSchema):
    """A new role: its name, what it is for, what it grants (none is allowed)."""

    name = role_name_field(required=True)
    description = fields.String(load_default="", validate=[validate.Length(max=500)])
    permissions = permission_names(required=True, **PLATFORM_ONLY)


class RoleUpdateSchema(RequestSchema):
    """What may change of a role (a built-in keeps its name; admin its permissions)."""

    name = role_name_field()
    description = fields.String(validate=validate.Length(max=500))
    permissions = permission_names(**PLATFORM_ONLY)


class MyPermissionsSchema(Schema):
    """What the caller's token may do: on the platform, and in each organization."""

    platform = fields.List(fields.String())
    organizations = fields.List(fields.Dict())


class CheckSchema(RequestSchema):
    """One question: may ``user_id`` (default: you) use ``permission``, on the platform, in an
    organization, or on a bucketlist?"""

    permission = permission_field(required=True)
    organization_id = fields.Integer(validate=validate.Range(min=1))
    bucketlist_id = fields.Integer(validate=validate.Range(min=1))
    user_id = fields.Integer(validate=validate.Range(min=1))


class AuthzCheckSchema(RequestSchema):
    """1 to 100 questions, answered in the same order."""

    checks = fields.List(
        fields.Nested(CheckSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_CHECKS),
    )


class CheckResultSchema(Schema):
    allowed = fields.Boolean()
    reason = fields.String(
        metadata={
            "description": "granted, or not_granted (also when the organization, object or "
            "user does not exist or is not yours to see: nothing is revealed)."
        }
    )


class AuthzAnswerSchema(Schema):
    results = fields.List(fields.Nested(CheckResultSchema))
