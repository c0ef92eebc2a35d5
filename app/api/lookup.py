"""Loading what a URL names, for the views of every resource."""

from app.errors import ApiError
from app.extensions import db
from app.models import User


def user_or_404(user_id: int) -> User:
    """The user with that id, or 404 ``not_found``."""
    user = db.session.get(User, user_id)
    if user is None:
        raise ApiError(404, "not_found", "No user has that id.")
    return user
