"""Ownership: the one rule every owned resource uses.

Owners see and change their own objects; admins see and change everyone's; anybody else gets
404, never 403, so an id reveals nothing about what exists. A model takes part by having an
``owner_id`` column. Views get the rule from ``@owned(...)`` (one object) and
``visible_to_current_user(...)`` (lists).
"""

import functools

import flask_smorest
from flask_praetorian import current_rolenames, current_user_id
from sqlalchemy import Select, select

from app.errors import ApiError, error_response_doc
from app.extensions import db

NOT_YOURS = flask_smorest.Blueprint.doc(
    responses={
        "404": error_response_doc("Not found, or not yours: only its owner or an admin may use it.")
    }
)


def is_admin() -> bool:
    return "admin" in current_rolenames()


def load_owned(model, object_id: int):
    """The object with that id, if the current user may see it; else 404."""
    found = db.session.get(model, object_id)
    if found is None or not (is_admin() or found.owner_id == current_user_id()):
        raise ApiError(404, "not_found", f"No {model.__name__.lower()} has that id.")
    return found


def owned(model, url_argument: str, parameter: str):
    """Decorator: replace the URL's id (``url_argument``) with the object it names, loaded
    with ``load_owned``, passed to the view as ``parameter``, and document the 404. Goes under
    ``@blp.auth_required``."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            kwargs[parameter] = load_owned(model, kwargs.pop(url_argument))
            return view(*args, **kwargs)

        return NOT_YOURS(wrapper)

    return decorator


def visible_to_current_user(model, owner_id: int | None = None) -> Select:
    """``select(model)`` limited to what the current user owns; admins see everything, or one
    owner's objects when they ask for ``owner_id``."""
    statement = select(model)
    if is_admin():
        if owner_id is not None:
            statement = statement.where(model.owner_id == owner_id)
        return statement
    if owner_id is not None and owner_id != current_user_id():
        raise ApiError(403, "forbidden", "Only admins may list other users' objects.")
    return statement.where(model.owner_id == current_user_id())
