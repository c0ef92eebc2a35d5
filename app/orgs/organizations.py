"""Organizations themselves: made (the creator is its owner), listed, renamed, deleted.

A slug is derived from the name when none is given; a taken slug is 409. Every change of an
organization's memberships or roles moves its ``version`` on (``touch``). Deleting an
organization deletes its memberships, invitations, roles of its own and bucketlists; its audit
events stay, and its slug is free again. Its members' tokens bound to it stop working on their
next request (their membership is gone).
"""

import re
import secrets

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import lazyload

from app.access import permissions
from app.access.org_permissions import OWNER
from app.access.permissions import ORGS_MANAGE, ORGS_READ
from app.audit import record_event
from app.errors import ApiError
from app.extensions import db
from app.identity import canonical
from app.models import Membership, Organization, User

SLUG_LETTERS = re.compile(r"[^a-z0-9]+")


def slug_from(name: str) -> str:
    """A slug made of the name's letters and digits (``Acme Corp.`` -> ``acme-corp``), at least
    three characters and at most forty."""
    slug = SLUG_LETTERS.sub("-", canonical(name)).strip("-")[:40].strip("-")
    return slug if len(slug) >= 3 else f"org-{secrets.token_hex(3)}"


def refuse_taken_slug(slug: str, organization_id: int | None = None) -> None:
    statement = select(Organization.id).where(Organization.slug == slug)
    if organization_id is not None:
        statement = statement.where(Organization.id != organization_id)
    if db.session.scalar(statement) is not None:
        raise ApiError(
            409,
            "conflict",
            "An organization already has that slug.",
            {"slug": ["That slug is taken."]},
        )


def may_create(user: User) -> None:
    """``ORG_CREATION``: ``anyone`` (an account with a confirmed address, or any account when
    confirmation is off) or ``admin`` (holders of ``orgs:manage``)."""
    config = current_app.config
    if config["ORG_CREATION"] == "admin":
        if not permissions.holds(ORGS_MANAGE):
            raise permissions.forbidden([ORGS_MANAGE])
    elif config["EMAIL_CONFIRMATION"] and not user.email_confirmed:
        raise ApiError(403, "forbidden", "Confirm your e-mail address first.")


def create(user: User, name: str, slug: str | None) -> tuple[Organization, Membership]:
    """A new organization with ``user`` as its owner."""
    may_create(user)
    slug = slug or slug_from(name)
    refuse_taken_slug(slug)
    organization = Organization(name=name, slug=slug, member_count=1)
    db.session.add(organization)
    db.session.flush()
    membership = Membership(organization_id=organization.id, user_id=user.user_id, roles=[OWNER])
    db.session.add(membership)
    db.session.flush()
    record_event(
        "org.created",
        None,
        {"name": [None, name], "slug": [None, slug]},
        organization.id,
    )
    record_event("membership.added", user.user_id, {"roles": [None, [OWNER]]}, organization.id)
    return organization, membership


def mine(user_id: int):
    """SQL: the memberships of ``user_id``, each read with its organization (for the list of
    one's organizations)."""
    return (
        select(Membership).where(Membership.user_id == user_id).options(lazyload(Membership.user))
    )


def view(organization: Organization, roles) -> dict:
    """An organization with the caller's roles in it."""
    return {
        "id": organization.id,
        "name": organization.name,
        "slug": organization.slug,
        "created_at": organization.created_at,
        "my_roles": list(roles),
    }


def every() -> object:
    """SQL: every organization (support staff, ``orgs:read``)."""
    if not permissions.holds(ORGS_READ) and not permissions.holds(ORGS_MANAGE):
        raise permissions.forbidden([ORGS_READ])
    return select(Organization)


def change(organization: Organization, changes: dict) -> Organization:
    before = {"name": organization.name, "slug": organization.slug}
    if "slug" in changes and changes["slug"] != organization.slug:
        refuse_taken_slug(changes["slug"], organization.id)
        organization.slug = changes["slug"]
    if "name" in changes:
        organization.name = changes["name"]
    after = {"name": organization.name, "slug": organization.slug}
    if after != before:
        record_event(
            "org.updated",
            None,
            {key: [before[key], after[key]] for key in after if before[key] != after[key]},
            organization.id,
        )
    return organization


def delete(organization: Organization) -> None:
    record_event(
        "org.deleted",
        None,
        {"name": [organization.name, None], "slug": [organization.slug, None]},
        organization.id,
    )
    db.session.delete(organization)


def touch(organization_id: int) -> None:
    """The organization's memberships or roles changed: its version moves on."""
    db.session.execute(
        update(Organization)
        .where(Organization.id == organization_id)
        .values(version=Organization.version + 1)
    )
