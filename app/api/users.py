"""Users: listings, one's own profile, and any profile at the viewer's level of detail."""

from flask import jsonify
from flask_praetorian import auth_required, current_rolenames, current_user, roles_accepted
from flask_smorest import Blueprint
from sqlalchemy import select

from app.api.docs import requires
from app.auth.login import token_response
from app.auth.passwords import password_is_correct, set_password
from app.errors import ApiError
from app.extensions import db, guard
from app.models import User
from app.pagination import paginate
from app.schemas.auth import ChangePasswordSchema, TokenSchema
from app.schemas.common import PaginationArgsSchema
from app.schemas.user import (
    AdminUserPageSchema,
    AdminUserSchema,
    PublicUserPageSchema,
    PublicUserSchema,
    SelfUserSchema,
)

blp = Blueprint("users", __name__, url_prefix="/users", description="User accounts.")

STAFF_ROLES = ("admin", "operator")


@blp.route("")
@auth_required
@blp.doc(**requires())
@blp.arguments(PaginationArgsSchema, location="query")
@blp.response(200, PublicUserPageSchema)
def list_users(pagination):
    """List users (public view), a page at a time."""
    return paginate(select(User).order_by(User.user_id), **pagination)


@blp.route("/me")
@auth_required
@blp.doc(**requires())
@blp.response(200, SelfUserSchema)
def me():
    """Show the signed-in user's own profile."""
    return current_user()


@blp.route("/me/password", methods=["PUT"])
@auth_required
@blp.doc(**requires())
@blp.arguments(ChangePasswordSchema)
@blp.response(200, TokenSchema)
def change_password(payload):
    """Change your password; every older token is revoked and a fresh one is returned."""
    user = current_user()
    if not password_is_correct(user, payload["current_password"]):
        raise ApiError(
            422,
            "validation_error",
            details={"current_password": ["The current password is incorrect."]},
        )
    set_password(user, payload["new_password"], field_name="new_password")
    db.session.commit()
    return token_response(guard.encode_jwt_token(user))


@blp.route("/admin-only")
@roles_accepted(*STAFF_ROLES)
@blp.doc(**requires(*STAFF_ROLES))
@blp.arguments(PaginationArgsSchema, location="query")
@blp.response(200, AdminUserPageSchema)
def admin_only(pagination):
    """List users with every administrative field, a page at a time."""
    return paginate(select(User).order_by(User.user_id), **pagination)


@blp.route("/<int:user_id>")
@auth_required
@blp.doc(
    **requires(),
    responses={
        "200": {
            "description": "The public view; the self view for oneself; the admin view for "
            "admins and operators.",
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/PublicUser"},
                            {"$ref": "#/components/schemas/SelfUser"},
                            {"$ref": "#/components/schemas/AdminUser"},
                        ]
                    }
                }
            },
        }
    },
)
def user_by_id(user_id: int):
    """Show one user, with as much detail as the viewer may see."""
    user = db.session.get(User, user_id)
    if user is None:
        raise ApiError(404, "not_found", "No user has that id.")
    return jsonify(view_schema(user)().dump(user))


def view_schema(user: User) -> type[PublicUserSchema]:
    """The representation of ``user`` the signed-in viewer is entitled to."""
    if not current_rolenames().isdisjoint(STAFF_ROLES):
        return AdminUserSchema
    if current_user().user_id == user.user_id:
        return SelfUserSchema
    return PublicUserSchema
