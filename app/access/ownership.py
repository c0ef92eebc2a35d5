"""Ownership: the one rule every owned resource uses.

Owners see and change their own objects. Anyone else gets 404, never 403, so an id reveals
nothing about what exists, unless their roles grant the resource's ``<table>:read_all`` (see
everyone's) or ``<table>:write_all`` (change everyone's) permission: ``admin`` grants both, and
a role made through the API may be given them. A model takes part by having an ``owner_id``
column (and, for those permissions, by declaring them). An object may belong to an organization
instead (an ``organization_id``): then its members see it with ``<table>:read`` there and change
it with ``<table>:write`` (``app.access.org_permissions``), and anyone else gets 404. Views get
the rule from ``@owned(...)`` (one object) and ``visible_to_current_user(...)`` (lists).
"""

import functools

import flask_smorest
from flask import g, request
from flask_praetorian import current_user_id
from sqlalchemy import Select, select

from app.access import org_permissions
from app.access.permissions import forbidden, holds
from app.database import SAFE_METHODS
from app.errors import ApiError, error_response_doc
from app.extensions import db

NOT_YOURS = flask_smorest.Blueprint.doc(
    responses={
        "404": error_response_doc(
            "Not found, or not yours: only its owner, or a role that may see everyone's."
        )
    }
)


def sees_all(model) -> bool:
    return holds(f"{model.__tablename__}:read_all") or holds(f"{model.__tablename__}:write_all")


def load_owned(model, object_id: int):
    """The object with that id, if the current user may see it (else 404) and, for a request
    that changes it, change it (else 403 naming ``<table>:write_all``, or in an organization
    ``<table>:write``)."""
    found = db.session.get(model, object_id)
    organization_id = getattr(found, "organization_id", None)
    confined = g.get("confined_to_organization")
    if confined is not None and organization_id != confined:
        raise ApiError(404, "not_found", f"No {model.__name__.lower()} has that id.")
    if organization_id is not None and not sees_all(model):
        return in_organization(model, found, organization_id)
    mine = found is not None and found.owner_id == current_user_id()
    if found is None or not (mine or sees_all(model)):
        raise ApiError(404, "not_found", f"No {model.__name__.lower()} has that id.")
    write_all = f"{model.__tablename__}:write_all"
    if not mine and request.method not in SAFE_METHODS and not holds(write_all):
        raise forbidden([write_all])
    return found


def in_organization(model, found, organization_id: int):
    """An organization's object: for its members who may read (or, to change it, write) it."""
    try:
        access = org_permissions.access_to(organization_id)
    except ApiError:
        raise ApiError(404, "not_found", f"No {model.__name__.lower()} has that id.") from None
    action = "read" if request.method in SAFE_METHODS else "write"
    org_permissions.require(access, f"{model.__tablename__}:{action}")
    return found


def owner_of_new(model, organization_id: int | None) -> dict:
    """Who owns a new object: the current user, or an organization of theirs in which they may
    write such objects (404 outside it, 403 without the permission)."""
    confined = g.get("confined_to_organization")
    if organization_id is None:
        if confined is not None:
            raise forbidden_outside(confined)
        return {"owner_id": current_user_id()}
    access = org_permissions.access_to(organization_id)
    org_permissions.require(access, f"{model.__tablename__}:write")
    return {"organization_id": organization_id, "created_by": current_user_id()}


def forbidden_outside(organization_id: int) -> ApiError:
    return ApiError(
        403,
        "insufficient_scope",
        f"This token reaches its organization only: give organization_id {organization_id}.",
    )


def owned(model, url_argument: str, parameter: str):
    """Decorator: replace the URL's id (``url_argument``) with the object it names, loaded
    with ``load_owned``, passed to the view as ``parameter``, and document the 404. Goes under
    the access decorator."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            kwargs[parameter] = load_owned(model, kwargs.pop(url_argument))
            return view(*args, **kwargs)

        return NOT_YOURS(wrapper)

    return decorator


def visible_to_current_user(
    model, owner_id: int | None = None, organization_id: int | None = None
) -> Select:
    """``select(model)`` limited to what the current user owns; a caller who may see everyone's
    sees everything, or one owner's objects when they ask for ``owner_id``; with
    ``organization_id``, that organization's, for its members who may read them (404 to anyone
    else)."""
    statement = select(model)
    confined = g.get("confined_to_organization")
    if confined is not None and organization_id != confined:
        raise forbidden_outside(confined)
    if organization_id is not None:
        access = org_permissions.access_to(organization_id)
        org_permissions.require(access, f"{model.__tablename__}:read")
        return statement.where(model.organization_id == organization_id)
    if sees_all(model):
        if owner_id is not None:
            statement = statement.where(model.owner_id == owner_id)
        return statement
    if owner_id is not None and owner_id != current_user_id():
        raise forbidden([f"{model.__tablename__}:read_all"])
    return statement.where(model.owner_id == current_user_id())
