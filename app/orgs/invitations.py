"""Invitations: single-use links to join an organization with some roles.

- Inviting is granting: the inviter holds, in the organization, every permission of the roles
  invited with (403 naming it). Inviting an existing member is 409; inviting an address with a
  pending invitation replaces it (the earlier link stops working); at most
  ``MAX_PENDING`` pending invitations per organization (the next: 409 naming the limit).
- The token is 256 random bits, e-mailed (through the worker) and never stored: only its digest.
  It lives ``INVITATION_LIFESPAN`` seconds (7 days) and works once.
- Accepting needs a signed-in account whose CONFIRMED e-mail address is the invited one,
  ignoring case: otherwise 403, and the invitation stays usable. Accepting while a member: 409,
  the invitation left as it was. An unknown, used, revoked, declined or expired invitation: 404.
- The account page accepts without the token: the confirmed address is the proof.
- Audited in the organization's log: ``invitation.created``, ``.revoked``, ``.accepted``,
  ``.declined``, and ``membership.added``.
"""

from datetime import timedelta

from flask import current_app
from flask_mailman import EmailMessage
from sqlalchemy import delete, func, select

from app.access.org_permissions import OrgAccess
from app.audit import record_event
from app.errors import ApiError
from app.extensions import db
from app.identity import canonical
from app.models import Invitation, Membership, Organization, User
from app.models.columns import utcnow
from app.orgs import members
from app.tokens.opaque import digest, new_secret

MAX_PENDING = 100


def pending(organization_id: int):
    """SQL: the organization's pending invitations (for their list)."""
    return select(Invitation).where(
        Invitation.organization_id == organization_id, Invitation.expires_at > utcnow()
    )


def invite(access: OrgAccess, inviter: User, email: str, roles: list[str]) -> Invitation:
    organization = access.organization
    members.refuse_unknown_roles(organization.id, roles)
    members.refuse_escalation(access, roles)
    already = db.session.scalar(
        select(Membership.id)
        .join(User, User.user_id == Membership.user_id)
        .where(
            Membership.organization_id == organization.id,
            func.lower(User.email) == canonical(email),
            User.email_confirmed,
        )
    )
    if already:
        raise ApiError(409, "conflict", "That address belongs to a member already.")
    # Serialize invitations of one organization: the limit holds when two race.
    members.lock_owners(organization.id)
    db.session.execute(
        delete(Invitation).where(
            Invitation.organization_id == organization.id,
            (Invitation.email == canonical(email)) | (Invitation.expires_at <= utcnow()),
        )
    )
    live = db.session.scalar(
        select(func.count()).where(Invitation.organization_id == organization.id)
    )
    if live >= MAX_PENDING:
        raise ApiError(
            409,
            "conflict",
            f"The organization has {MAX_PENDING} pending invitations, the most it may have: "
            "revoke some first.",
        )
    token = new_secret()
    invitation = Invitation(
        organization_id=organization.id,
        email=canonical(email),
        roles=sorted(set(roles)),
        digest=digest(token),
        invited_by=inviter.user_id,
        expires_at=utcnow() + timedelta(seconds=current_app.config["INVITATION_LIFESPAN"]),
    )
    db.session.add(invitation)
    db.session.flush()
    record_event(
        "invitation.created",
        None,
        {"invitation": [None, invitation.id], "roles": [None, invitation.roles]},
        organization.id,
    )
    send(invitation, organization, inviter, token)
    return invitation


def send(invitation: Invitation, organization: Organization, inviter: User, token: str) -> None:
    """The e-mail with the link (queued for the worker with the request's transaction)."""
    base = current_app.config["PUBLIC_BASE_URL"]
    EmailMessage(
        subject=f"{inviter.username} invites you to {organization.name} on Gatehouse",
        body=(
            f"Hello,\n\n{inviter.username} invites you to join {organization.name} on Gatehouse, "
            f"as {', '.join(invitation.roles)}.\n\nSign in with this address, then accept: "
            f"{base}/account?invitation={token}\n(or POST /invitations/accept with the token "
            f"{token}). The invitation works once, until {invitation.expires_at:%Y-%m-%d}.\n\n"
            "Gatehouse"
        ),
        from_email=current_app.config["MAIL_DEFAULT_SENDER"],
        to=[invitation.email],
    ).send()


def of_organization(organization_id: int, invitation_id: int) -> Invitation:
    found = db.session.get(Invitation, invitation_id)
    if found is None or found.organization_id != organization_id:
        raise ApiError(404, "not_found", "No invitation of this organization has that id.")
    return found


def revoke(invitation: Invitation) -> None:
    record_event(
        "invitation.revoked",
        None,
        {"invitation": [invitation.id, None]},
        invitation.organization_id,
    )
    db.session.delete(invitation)


def usable(invitation: Invitation | None) -> Invitation:
    if invitation is None or invitation.expires_at <= utcnow():
        raise ApiError(
            404, "not_found", "No such invitation: unknown, used, revoked, declined or expired."
        )
    return invitation


def by_token(token: str) -> Invitation:
    return usable(db.session.scalar(select(Invitation).where(Invitation.digest == digest(token))))


def of_user(user: User, invitation_id: int) -> Invitation:
    """One of the pending invitations to ``user``'s confirmed address (404 for any other)."""
    invitation = usable(db.session.get(Invitation, invitation_id))
    if not addressed_to(user, invitation):
        raise ApiError(404, "not_found", "You have no invitation with that id.")
    return invitation


def addressed_to(user: User, invitation: Invitation) -> bool:
    return user.email_confirmed and canonical(user.email) == invitation.email


def accept(user: User, invitation: Invitation) -> Membership:
    if not addressed_to(user, invitation):
        raise ApiError(
            403,
            "forbidden",
            "This invitation is for another e-mail address (or yours is not confirmed yet).",
        )
    membership = members.join(invitation.organization_id, user.user_id, invitation.roles)
    record_event(
        "invitation.accepted",
        user.user_id,
        {"invitation": [invitation.id, None]},
        invitation.organization_id,
    )
    db.session.delete(invitation)
    return membership


def decline(user: User, invitation: Invitation) -> None:
    record_event(
        "invitation.declined",
        user.user_id,
        {"invitation": [invitation.id, None]},
        invitation.organization_id,
    )
    db.session.delete(invitation)


def addressed_to_me(user: User):
    """SQL: the pending invitations to ``user``'s confirmed address, with their organization and
    inviter (for their list)."""
    if not user.email_confirmed:
        return select(Invitation).where(Invitation.id.is_(None))
    return select(Invitation).where(
        Invitation.email == canonical(user.email), Invitation.expires_at > utcnow()
    )
