"""Users: listings, one's own profile, and administration of any account."""

import functools

from flask import jsonify, url_for
from flask.views import MethodView
from flask_praetorian import (
    auth_required,
    current_rolenames,
    current_user_id,
    roles_accepted,
    roles_required,
)
from sqlalchemy import Select, func, select

from app.api.blueprint import Blueprint
from app.api.docs import query_args, requires
from app.auth.guard import current_account, current_user
from app.auth.login import token_response
from app.auth.passwords import password_is_correct, set_password
from app.auth.revocation import revoke_all_tokens
from app.auth.safeguards import protect_admins
from app.errors import ApiError
from app.extensions import db, guard
from app.models import STAFF_ROLES, RowCount, User
from app.models.user import Account
from app.pagination import PageQuery, page_response, paginate
from app.schemas.auth import ChangePasswordSchema, TokenSchema
from app.schemas.common import ErrorSchema
from app.schemas.sql_json import compile_json_sql
from app.schemas.user import (
    AdminUserPageSchema,
    AdminUserSchema,
    PublicUserPageSchema,
    PublicUserSchema,
    SelfUpdateSchema,
    SelfUserSchema,
    UserCreateSchema,
    UserListArgsSchema,
    UserUpdateSchema,
)

blp = Blueprint("users", __name__, url_prefix="/users", description="User accounts.")

SORTS = {
    "username": (func.lower(User.username),),
    "-username": (func.lower(User.username).desc(),),
    "created_at": (User.created_datetime, User.user_id),
    "-created_at": (User.created_datetime.desc(), User.user_id.desc()),
}
ONE_OF_THE_VIEWS = {
    "200": {
        "description": "The public view; the self view for oneself; the admin view for admins "
        "and operators.",
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
}


# The public view of a user, written by PostgreSQL (the list every user reads).
PUBLIC_USER_JSON = compile_json_sql(PublicUserSchema(), User)
if PUBLIC_USER_JSON is None:
    raise RuntimeError(
        "PublicUserSchema has a field app.schemas.sql_json cannot write: give it an SQL twin."
    )
# What each list selects: the public view's JSON text (PublicUserSchema); the admin view's
# columns (AdminUserSchema), no more.
VIEW_COLUMNS = {
    "public": (PUBLIC_USER_JSON.column,),
    "admin": tuple(User.__table__.columns),
}
# What a list row becomes: for the admin view, an ``Account`` (which also shows ``roles`` as a
# list); the public view's page holds JSON texts.
VIEW_ITEMS = {"public": None, "admin": Account}
VIEW_PARAMS = {"public": PUBLIC_USER_JSON.params, "admin": dict}
JSON_VIEWS = {"public"}


PUBLIC_PAGE = PublicUserPageSchema()
# One instance per view, built once: each compiles its dump on first use.
USER_VIEWS = {
    "admin": AdminUserSchema(),
    "self": SelfUserSchema(),
    "public": PublicUserSchema(),
}
NO_SUCH_USER = {"schema": ErrorSchema, "description": "No user has that id (not_found)."}
LOCKOUT = "it would remove yourself or the last active admin"
TAKEN = {"schema": ErrorSchema, "description": "conflict: the username or e-mail is taken."}


def is_staff() -> bool:
    return not current_rolenames().isdisjoint(STAFF_ROLES)


def user_list(filters: dict, columns) -> Select:
    """``columns`` of the users matching the list filters, in the requested order."""
    statement = select(*columns)
    if "q" in filters:
        needle = filters["q"].lower()
        statement = statement.where(func.lower(User.username).contains(needle, autoescape=True))
    if "role" in filters:
        statement = statement.where(User.has_role(filters["role"]))
    if "is_active" in filters:
        if not is_staff():
            raise ApiError(403, "forbidden", "Only admins and operators may filter on is_active.")
        statement = statement.where(User.is_active == filters["is_active"])
    return statement.order_by(*SORTS[filters["sort"]])


def page_of_users(filters: dict, view: str) -> dict:
    """A page of users: no ORM objects to build for a read-only page. The public view's items
    are JSON texts written by PostgreSQL; the admin view's, ``Account`` snapshots."""
    if filters.keys().isdisjoint({"q", "role", "is_active"}):
        query = unfiltered_page_query(view, filters["sort"])
    else:
        query = PageQuery(user_list(filters, VIEW_COLUMNS[view]), json_items=view in JSON_VIEWS)
    page, per_page, params = filters["page"], filters["per_page"], VIEW_PARAMS[view]()
    return paginate(query, page, per_page, item=VIEW_ITEMS[view], params=params)


@functools.cache
def unfiltered_page_query(view: str, sort: str) -> PageQuery:
    """Every user, in a view and an order: what clients ask for most, prepared once. The total
    is every user, and the database keeps that count exact."""
    statement = user_list({"sort": sort}, VIEW_COLUMNS[view])
    return PageQuery(statement, RowCount.of("users"), prepare=True, json_items=view in JSON_VIEWS)


def get_user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise ApiError(404, "not_found", "No user has that id.")
    return user


def refuse_taken(username: str | None, email: str | None, exclude_id: int | None = None) -> None:
    taken = User.taken_fields(username, email, exclude_id)
    if taken:
        raise ApiError(409, "conflict", "The username or e-mail is already in use.", taken)


def user_location(user: User) -> dict[str, str]:
    return {"Location": url_for("users.UserById", user_id=user.user_id)}


@blp.route("")
class Users(MethodView):
    @auth_required
    @requires(blp)
    @query_args(blp, UserListArgsSchema)
    @blp.response(200, PublicUserPageSchema)
    def get(self, filters):
        """List users (public view), filtered, sorted and a page at a time."""
        return page_response(PUBLIC_PAGE, page_of_users(filters, "public"))

    @roles_required("admin")
    @requires(blp, "admin")
    @blp.alt_response(409, **TAKEN)
    @blp.arguments(UserCreateSchema)
    @blp.response(201, AdminUserSchema)
    def post(self, account):
        """Create an account with any roles, active or not."""
        refuse_taken(account["username"], account["email"])
        user = User(
            username=account["username"],
            email=account["email"],
            password=guard.hash_password(account["password"]),
            is_active=account["is_active"],
        )
        user.rolenames = account["roles"]
        db.session.add(user)
        db.session.commit()
        return user, 201, user_location(user)


@blp.route("/me")
class Me(MethodView):
    @auth_required
    @requires(blp)
    @blp.response(200, SelfUserSchema)
    def get(self):
        """Show the signed-in user's own profile."""
        return current_account()

    @auth_required
    @requires(blp)
    @blp.alt_response(409, **TAKEN)
    @blp.arguments(SelfUpdateSchema)
    @blp.response(200, SelfUserSchema)
    def patch(self, changes):
        """Change your own e-mail address (the only field you may change yourself)."""
        user = current_user()
        refuse_taken(None, changes["email"], exclude_id=user.user_id)
        user.email = changes["email"]
        db.session.commit()
        return user


@blp.route("/me/password", methods=["PUT"])
@auth_required
@requires(blp)
@blp.alt_response(
    401,
    schema=ErrorSchema,
    description="invalid_credentials (the current password is wrong, see "
    "details.current_password), or no usable token: missing_token, invalid_token, "
    "token_expired or token_revoked.",
)
@blp.arguments(ChangePasswordSchema)
@blp.response(200, TokenSchema)
def change_password(payload):
    """Change your password; every older token is revoked and a fresh one is returned."""
    user = current_user()
    if not password_is_correct(user, payload["current_password"]):
        # A failed credential check, like a failed login (and not a token problem: the code says
        # which).
        raise ApiError(
            401,
            "invalid_credentials",
            "The current password is incorrect.",
            {"current_password": ["The current password is incorrect."]},
        )
    set_password(user, payload["new_password"], field_name="new_password")
    db.session.commit()
    return token_response(guard.encode_jwt_token(user))


@blp.route("/admin-only")
@roles_accepted(*STAFF_ROLES)
@requires(blp, *STAFF_ROLES)
@query_args(blp, UserListArgsSchema)
@blp.response(200, AdminUserPageSchema)
def admin_only(filters):
    """List users with every administrative field, filtered, sorted and a page at a time."""
    return page_of_users(filters, "admin")


@blp.route("/<int:user_id>")
class UserById(MethodView):
    @auth_required
    @requires(blp)
    @blp.alt_response(404, **NO_SUCH_USER)
    @blp.doc(responses=ONE_OF_THE_VIEWS)
    def get(self, user_id: int):
        """Show one user, with as much detail as the viewer may see."""
        user = get_user_or_404(user_id)
        if is_staff():
            view = "admin"
        elif current_user_id() == user.user_id:
            view = "self"
        else:
            view = "public"
        return jsonify(USER_VIEWS[view].dump(user))

    @roles_required("admin")
    @requires(blp, "admin")
    @blp.alt_response(404, **NO_SUCH_USER)
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description=f"conflict: the e-mail is taken, or {LOCKOUT} (demote or deactivate).",
    )
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, AdminUserSchema)
    def patch(self, changes, user_id: int):
        """Change an account's e-mail, roles or status; role and status changes revoke its
        tokens."""
        user = get_user_or_404(user_id)
        protect_admins(
            current_user(), user, roles=changes.get("roles"), is_active=changes.get("is_active")
        )
        if "email" in changes:
            refuse_taken(None, changes["email"], exclude_id=user.user_id)
            user.email = changes["email"]
        if "roles" in changes and set(changes["roles"]) != set(user.rolenames):
            user.rolenames = changes["roles"]
            revoke_all_tokens(user)
        if "is_active" in changes and changes["is_active"] != user.is_active:
            user.is_active = changes["is_active"]
            revoke_all_tokens(user)
        db.session.commit()
        return user

    @roles_required("admin")
    @requires(blp, "admin")
    @blp.alt_response(404, **NO_SUCH_USER)
    @blp.alt_response(409, schema=ErrorSchema, description=f"conflict: {LOCKOUT}.")
    @blp.response(204)
    def delete(self, user_id: int):
        """Delete an account and everything it owns; its tokens stop working at once."""
        user = get_user_or_404(user_id)
        protect_admins(current_user(), user, deleting=True)
        db.session.delete(user)
        db.session.commit()
