"""Ownership: the one rule every owned resource uses.

Owners see and change their own objects. Anyone else gets 404, never 403, so an id reveals
nothing about what exists, unless their roles grant the resource's ``<table>:read_all`` (see
everyone's) or ``<table>:write_all`` (change everyone's) permission: ``admin`` grants both, and
a role made through the API may be given them. A model takes part by having an ``owner_id``
column (and, for those permissions, by declaring them). Views get the rule from ``@owned(...)``
(one object) and ``visible_to_current_user(...)`` (lists).
"""

import functools

import flask_smorest
from flask import request
from flask_praetorian import current_user_id
from sqlalchemy import Select, select

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
    that changes it, change it (else 403 naming ``<table>:write_all``)."""
    found = db.session.get(model, object_id)
    mine = found is not None and found.owner_id == current_user_id()
    if found is None or not (mine or sees_all(model)):
        raise ApiError(404, "not_found", f"No {model.__name__.lower()} has that id.")
    write_all = f"{model.__tablename__}:write_all"
    if not mine and request.method not in SAFE_METHODS and not holds(write_all):
        raise forbidden([write_all])
    return found


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


def visible_to_current_user(model, owner_id: int | None = None) -> Select:
    """``select(model)`` limited to what the current user owns; a caller who may see everyone's
    sees everything, or one owner's objects when they ask for ``owner_id``."""
    statement = select(model)
    if sees_all(model):
        if owner_id is not None:
            statement = statement.where(model.owner_id == owner_id)
        return statement
    if owner_id is not None and owner_id != current_user_id():
        raise forbidden([f"{model.__tablename__}:read_all"])
    return statement.where(model.owner_id == current_user_id())
