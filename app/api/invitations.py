"""Invitations to organizations: sent and revoked by members with members:invite; accepted with
the e-mailed token, or from the account page by the confirmed address they were sent to.
The rules are ``app.orgs.invitations``."""

from flask import url_for
from flask.views import MethodView

from app.access.org_permissions import access_to
from app.access.permissions import MEMBERS_INVITE
from app.api.blueprint import Blueprint
from app.extensions import db
from app.guard import current_user
from app.models import Invitation
from app.orgs import invitations
from app.pagination import Order, paginate
from app.schemas.common import ErrorSchema
from app.schemas.organization import (
    AcceptSchema,
    InvitationCreateSchema,
    InvitationListArgsSchema,
    InvitationPageSchema,
    InvitationSchema,
    MembershipSchema,
    MyInvitationPageSchema,
    MyInvitationSchema,
)

blp = Blueprint(
    "invitations", __name__, url_prefix="/", description="Invitations to organizations."
)

OLDEST_FIRST = Order((Invitation.id,))
GONE = {
    "schema": ErrorSchema,
    "description": "not_found: no such invitation (unknown, used, revoked, declined, expired).",
}
ALREADY = {"schema": ErrorSchema, "description": "conflict: a member already."}
NOT_YOURS = {
    "schema": ErrorSchema,
    "description": "forbidden: the invitation is for another (or an unconfirmed) address; it "
    "stays usable.",
}


@blp.route("orgs/<int:org_id>/invitations")
class OrganizationInvitations(MethodView):
    @blp.org_access(MEMBERS_INVITE)
    @blp.list_arguments(InvitationListArgsSchema)
    @blp.response(200, InvitationPageSchema)
    def get(self, args, org_id: int):
        """List an organization's pending invitations (never their tokens)."""
        return paginate(invitations.pending(org_id), args, OLDEST_FIRST, InvitationSchema)

    @blp.org_access(MEMBERS_INVITE)
    @blp.rate_limited("invitations", per="user")
    @blp.arguments(InvitationCreateSchema)
    @blp.response(201, InvitationSchema)
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="conflict: the address is a member's, or the organization has 100 pending "
        "invitations.",
    )
    def post(self, values, org_id: int):
        """Invite an address, with roles none of which grants what you lack here: an e-mail
        with a single-use link (7 days) goes out; a pending invitation to the same address is
        replaced."""
        invitation = invitations.invite(
            access_to(org_id), current_user(), values["email"], values["roles"]
        )
        db.session.commit()
        location = url_for(
            "invitations.revoke_invitation", org_id=org_id, invitation_id=invitation.id
        )
        return invitation, 201, {"Location": location}


@blp.route("orgs/<int:org_id>/invitations/<int:invitation_id>", methods=["DELETE"])
@blp.org_access(MEMBERS_INVITE)
@blp.response(204)
@blp.alt_response(404, **GONE)
def revoke_invitation(org_id: int, invitation_id: int):
    """Revoke an invitation: its link stops working."""
    invitations.revoke(invitations.of_organization(org_id, invitation_id))
    db.session.commit()


@blp.route("invitations/accept", methods=["POST"])
@blp.auth_required()
@blp.rate_limited("invitations", per="user")
@blp.arguments(AcceptSchema)
@blp.response(200, MembershipSchema)
@blp.alt_response(403, **NOT_YOURS)
@blp.alt_response(404, **GONE)
@blp.alt_response(409, **ALREADY)
def accept_by_token(payload):
    """Accept an invitation with the token its e-mail holds: you become a member."""
    membership = invitations.accept(current_user(), invitations.by_token(payload["token"]))
    db.session.commit()
    return membership


@blp.route("users/me/invitations")
@blp.auth_required()
@blp.list_arguments(InvitationListArgsSchema)
@blp.response(200, MyInvitationPageSchema)
def my_invitations(args):
    """List the pending invitations to your confirmed address."""
    statement = invitations.addressed_to_me(current_user())
    return paginate(statement, args, OLDEST_FIRST, MyInvitationSchema)


@blp.route("users/me/invitations/<int:invitation_id>/accept", methods=["POST"])
@blp.auth_required()
@blp.response(200, MembershipSchema)
@blp.alt_response(404, **GONE)
@blp.alt_response(409, **ALREADY)
def accept_mine(invitation_id: int):
    """Accept one of your invitations (your confirmed address is the proof)."""
    user = current_user()
    membership = invitations.accept(user, invitations.of_user(user, invitation_id))
    db.session.commit()
    return membership


@blp.route("users/me/invitations/<int:invitation_id>", methods=["DELETE"])
@blp.auth_required()
@blp.response(204)
@blp.alt_response(404, **GONE)
def decline_mine(invitation_id: int):
    """Decline one of your invitations: its link stops working."""
    user = current_user()
    invitations.decline(user, invitations.of_user(user, invitation_id))
    db.session.commit()
