"""Organizations and their members. Who may do what in one is ``app.access.org_permissions``;
the rules of each change, ``app.orgs``. To anyone who is not a member, every route of an
organization answers 404."""

from flask import url_for
from flask.views import MethodView
from flask_praetorian import current_user_id

from app.access.org_permissions import access_to
from app.access.permissions import BUCKETLISTS_READ, MEMBERS_MANAGE, ORGS_DELETE, ORGS_UPDATE
from app.api import bucketlists
from app.api.blueprint import Blueprint
from app.extensions import db
from app.guard import current_user
from app.models import Membership, Organization
from app.orgs import members, organizations
from app.pagination import Order, paginate
from app.schemas.bucketlist import BucketlistPageSchema, BucketlistSearchArgsSchema
from app.schemas.common import ErrorSchema
from app.schemas.organization import (
    AnyOrganizationSchema,
    ManagedMemberPageSchema,
    ManagedMemberSchema,
    MemberListArgsSchema,
    MemberPageSchema,
    MemberSchema,
    MemberUpdateSchema,
    MyOrganizationPageSchema,
    MyOrganizationSchema,
    OrganizationCreateSchema,
    OrganizationListArgsSchema,
    OrganizationSchema,
    OrganizationUpdateSchema,
)

blp = Blueprint(
    "orgs",
    __name__,
    url_prefix="/orgs",
    description="Organizations and their members.",
    links={"orgs": "orgs.Organizations"},
)

BY_MEMBERSHIP = Order((Membership.id,))
BY_ID = Order((Organization.id,))
TAKEN = {"schema": ErrorSchema, "description": "conflict: the slug is taken."}
LAST_OWNER = {
    "schema": ErrorSchema,
    "description": "conflict: the organization's last owner (make another member an owner).",
}


@blp.route("")
class Organizations(MethodView):
    @blp.auth_required()
    @blp.list_arguments(OrganizationListArgsSchema)
    @blp.response(200, MyOrganizationPageSchema)
    def get(self, args):
        """List your organizations, with your roles in each (``all=true``: every organization,
        for support staff with orgs:read)."""
        if args["all"]:
            return paginate(organizations.every(), args, BY_ID, AnyOrganizationSchema)
        return paginate(
            organizations.mine(current_user_id()), args, BY_MEMBERSHIP, MyOrganizationSchema
        )

    @blp.auth_required()
    @blp.rate_limited("organizations", per="user")
    @blp.arguments(OrganizationCreateSchema)
    @blp.response(201, OrganizationSchema)
    @blp.alt_response(409, **TAKEN)
    def post(self, values):
        """Make an organization: you are its owner."""
        organization, membership = organizations.create(
            current_user(), values["name"], values.get("slug")
        )
        db.session.commit()
        location = url_for("orgs.OrganizationById", org_id=organization.id)
        return organizations.view(organization, membership.roles), 201, {"Location": location}


@blp.route("/<int:org_id>")
class OrganizationById(MethodView):
    @blp.org_access()
    @blp.response(200, OrganizationSchema)
    def get(self, org_id: int):
        """Show an organization, with your roles in it."""
        access = access_to(org_id)
        return organizations.view(access.organization, access.roles)

    @blp.org_access(ORGS_UPDATE)
    @blp.arguments(OrganizationUpdateSchema)
    @blp.response(200, OrganizationSchema)
    @blp.alt_response(409, **TAKEN)
    def patch(self, changes, org_id: int):
        """Rename an organization, or change its slug."""
        access = access_to(org_id)
        organization = organizations.change(access.organization, changes)
        db.session.commit()
        return organizations.view(organization, access.roles)

    @blp.org_access(ORGS_DELETE, fresh=True)
    @blp.response(204)
    def delete(self, org_id: int):
        """Delete an organization: its memberships, invitations, roles and bucketlists go; its
        members' tokens bound to it stop working; its audit events stay."""
        organizations.delete(access_to(org_id).organization)
        db.session.commit()


@blp.route("/<int:org_id>/members")
@blp.org_access()
@blp.list_arguments(MemberListArgsSchema)
@blp.response(200, MemberPageSchema)
@blp.alt_response(
    200,
    schema=ManagedMemberPageSchema,
    description="With members:manage: each member's e-mail address too.",
    success=True,
)
def list_members(filters, org_id: int):
    """List an organization's members, in the order they joined (``role``, ``q``)."""
    access = access_to(org_id)
    manages = MEMBERS_MANAGE in access.permissions
    statement, total = members.listing(access.organization, filters, with_email=manages)
    schema = ManagedMemberSchema if manages else MemberSchema
    return paginate(statement, filters, BY_MEMBERSHIP, schema, total=total)


@blp.route("/<int:org_id>/members/<int:user_id>")
class MemberById(MethodView):
    @blp.org_access(MEMBERS_MANAGE)
    @blp.arguments(MemberUpdateSchema)
    @blp.response(200, ManagedMemberSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="not_found: no such member.")
    @blp.alt_response(409, **LAST_OWNER)
    def patch(self, changes, org_id: int, user_id: int):
        """Change a member's roles (none granting what you lack here; owners need
        owners:manage): obeyed on their next request."""
        access = access_to(org_id)
        membership = members.change_roles(
            access, members.member(access.organization, user_id), changes["roles"]
        )
        db.session.commit()
        return membership

    @blp.org_access()
    @blp.response(204)
    @blp.alt_response(409, **LAST_OWNER)
    def delete(self, org_id: int, user_id: int):
        """Remove a member (members:manage), or leave (your own id)."""
        access = access_to(org_id)
        members.remove(access, members.member(access.organization, user_id))
        db.session.commit()


@blp.route("/<int:org_id>/bucketlists")
@blp.org_access(BUCKETLISTS_READ)
@blp.list_arguments(BucketlistSearchArgsSchema)
@blp.response(200, BucketlistPageSchema)
def organization_bucketlists(filters, org_id: int):
    """List the organization's bucketlists (as ``GET /bucketlists?organization_id=`` does)."""
    return bucketlists.listing(filters, None, org_id)
