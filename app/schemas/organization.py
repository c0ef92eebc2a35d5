"""Organizations, their members and invitations as the API shows them, and what each action
takes."""

from marshmallow import Schema, fields, validate

from app.access.org_permissions import ORGANIZATION_PERMISSIONS
from app.models.organization import SLUG_PATTERN
from app.schemas.base import RequestSchema
from app.schemas.common import PaginationArgsSchema, UtcDateTime, page_schema
from app.schemas.fields import NOT_BLANK, email_field, role_name_field
from app.schemas.role import RoleCreateSchema, RoleUpdateSchema, permission_names

ORG_ROLES_DESCRIPTION = (
    "Organization roles: owner, admin, member (built in), or the organization's own."
)


def slug_field(**kwargs) -> fields.String:
    return fields.String(
        validate=validate.Regexp(f"^{SLUG_PATTERN}$", error="Use 3 to 40 of a-z, 0-9 and '-'."),
        metadata={"pattern": f"^{SLUG_PATTERN}$", "example": "acme"},
        **kwargs,
    )


def org_roles_field(**kwargs) -> fields.List:
    return fields.List(
        role_name_field(),
        validate=validate.Length(min=1, max=20),
        metadata={"description": ORG_ROLES_DESCRIPTION},
        **kwargs,
    )


class OrganizationSchema(Schema):
    """An organization, with your roles in it."""

    id = fields.Integer()
    name = fields.String()
    slug = fields.String()
    created_at = UtcDateTime()
    my_roles = fields.List(fields.String())


class MyOrganizationSchema(Schema):
    """An organization of yours (read from your membership), with your roles in it."""

    id = fields.Integer(attribute="organization_id")
    name = fields.String(attribute="organization.name")
    slug = fields.String(attribute="organization.slug")
    created_at = UtcDateTime(attribute="organization.created_at")
    my_roles = fields.List(fields.String(), attribute="roles")


class AnyOrganizationSchema(Schema):
    """Any organization (support staff's list: ``my_roles`` is empty there)."""

    id = fields.Integer()
    name = fields.String()
    slug = fields.String()
    created_at = UtcDateTime()
    my_roles = fields.Constant([])


MyOrganizationPageSchema = page_schema(MyOrganizationSchema)


class OrganizationListArgsSchema(PaginationArgsSchema):
    """Your organizations; ``all=true`` for every one (``orgs:read``)."""

    all = fields.Boolean(load_default=False)


class OrganizationCreateSchema(RequestSchema):
    """A new organization: a name, and a slug (made from the name when not given)."""

    name = fields.String(required=True, validate=[validate.Length(min=1, max=100), NOT_BLANK])
    slug = slug_field()


class OrganizationUpdateSchema(RequestSchema):
    name = fields.String(validate=[validate.Length(min=1, max=100), NOT_BLANK])
    slug = slug_field()


class MemberSchema(Schema):
    """A member, as members see each other."""

    user_id = fields.Integer()
    username = fields.String(attribute="user.username")
    roles = fields.List(fields.String())
    joined_at = UtcDateTime()


class ManagedMemberSchema(MemberSchema):
    """A member, as those who manage members see them (with the address)."""

    email = fields.String(attribute="user.email")


MemberPageSchema = page_schema(MemberSchema)
ManagedMemberPageSchema = page_schema(ManagedMemberSchema)


class MembershipSchema(MemberSchema):
    """Your membership of an organization."""

    organization_id = fields.Integer()


class MemberListArgsSchema(PaginationArgsSchema):
    """Members, in the order they joined; ``role`` holding it; ``q`` part of the username
    (or the e-mail, for who manages members), ignoring case."""

    role = role_name_field()
    q = fields.String(validate=validate.Length(min=1, max=64))


class MemberUpdateSchema(RequestSchema):
    roles = org_roles_field(required=True)


class InvitationSchema(Schema):
    """A pending invitation (never its token)."""

    id = fields.Integer()
    email = fields.String()
    roles = fields.List(fields.String())
    invited_by = fields.Integer(allow_none=True)
    created_at = UtcDateTime()
    expires_at = UtcDateTime()


InvitationPageSchema = page_schema(InvitationSchema)


class InvitationListArgsSchema(PaginationArgsSchema):
    """Pending invitations, the oldest first."""


class InvitationCreateSchema(RequestSchema):
    """Whom to invite, and with which roles (default: member)."""

    email = email_field(required=True)
    roles = org_roles_field(load_default=lambda: ["member"])


class MyInvitationSchema(Schema):
    """An invitation to your confirmed address."""

    id = fields.Integer()
    organization = fields.Method("organization_of")
    invited_by = fields.String(attribute="inviter.username", allow_none=True)
    roles = fields.List(fields.String())
    expires_at = UtcDateTime()

    def organization_of(self, invitation) -> dict:
        organization = invitation.organization
        return {"id": organization.id, "name": organization.name, "slug": organization.slug}


MyInvitationPageSchema = page_schema(MyInvitationSchema)


class AcceptSchema(RequestSchema):
    """The token from the invitation's e-mail."""

    token = fields.String(required=True, validate=validate.Length(min=1, max=256))


# An organization's roles grant organization permissions only.
IN_ORGANIZATIONS = {
    "among": ORGANIZATION_PERMISSIONS,
    "outside": "Not an organization permission: {input}.",
}


class OrgRoleCreateSchema(RoleCreateSchema):
    """A role of the organization's own, from organization permissions."""

    permissions = permission_names(required=True, **IN_ORGANIZATIONS)


class OrgRoleUpdateSchema(RoleUpdateSchema):
    """What may change of one of the organization's own roles."""

    permissions = permission_names(**IN_ORGANIZATIONS)
