"""Users: listings, one's own profile, and administration of any account."""

from flask import current_app, make_response, url_for
from flask.views import MethodView
from flask_praetorian import current_rolenames, current_user_id
from sqlalchemy import Select, literal, select

from app.api.blueprint import Blueprint
from app.api.docs import query_args
from app.api.lookup import user_or_404
from app.auth import factors
from app.auth.email_change import change_email, request_email_change
from app.auth.guard import current_user
from app.auth.passwords import set_password
from app.auth.safeguards import protect_admins
from app.auth.sessions import current_session, end_sessions, renew
from app.errors import ApiError
from app.extensions import db, guard
from app.models import STAFF_ROLES, User
from app.pagination import Order, paginate
from app.schemas.auth import ChangePasswordSchema, TokenSchema
from app.schemas.common import ErrorSchema
from app.schemas.user import (
    AdminUserPageSchema,
    AdminUserSchema,
    PendingEmailSchema,
    PublicUserPageSchema,
    PublicUserSchema,
    SelfUpdateSchema,
    SelfUserSchema,
    UserCreateSchema,
    UserListArgsSchema,
    UserUpdateSchema,
)
from app.tokens.transport import respond_with_tokens, session_answer

blp = Blueprint("users", __name__, url_prefix="/users", description="User accounts.")

SORTS = {
    "username": Order((User.lowered_username,)),
    "-username": Order((User.lowered_username,), descending=True),
    "created_at": Order((User.created_datetime, User.user_id)),
    "-created_at": Order((User.created_datetime, User.user_id), descending=True),
}
# Above this many matches, a free-text filter's total is PostgreSQL's estimate (the contract
# allows it, and says so in ``_meta.total_is_estimate``).
EXACT_TEXT_MATCHES = 10_000
# A role or status held by at most this many users is read through its own index and sorted;
# a commoner one is read in the list's order, filtered. PostgreSQL cannot tell which (its
# statistics sample misses the ten admins among a million users, and walks the whole list
# looking for them); the counters can.
FEW = 10_000


def sorted_apart(statement: Select, sort: str) -> tuple[Select, Order]:
    """The few users ``statement`` selects, set apart (a materialized CTE) and sorted there:
    PostgreSQL finds them through the filter's own index, then sorts them, instead of walking
    the list's order looking for them."""
    few = (
        statement.with_only_columns(
            User.user_id, User.created_datetime, User.lowered_username.label("lowered")
        )
        .cte("few")
        .prefix_with("MATERIALIZED")
    )
    keys = (
        (few.c.lowered,) if sort.endswith("username") else (few.c.created_datetime, few.c.user_id)
    )
    apart = select(User).join(few, few.c.user_id == User.user_id)
    return apart, Order(keys, descending=sort.startswith("-"))


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
NO_SUCH_USER = {"schema": ErrorSchema, "description": "No user has that id (not_found)."}
LOCKOUT = "it would remove yourself or the last active admin"
TAKEN = {"schema": ErrorSchema, "description": "conflict: the username or e-mail is taken."}


def is_staff() -> bool:
    return not current_rolenames().isdisjoint(STAFF_ROLES)


def users_matching(filters: dict) -> Select:
    """The users the list's filters select (``q``: part of the username, ignoring case)."""
    statement = select(User)
    if "q" in filters:
        statement = statement.where(User.username_contains(filters["q"]))
    if "role" in filters:
        statement = statement.where(User.has_role(filters["role"]))
    if "is_active" in filters:
        statement = statement.where(User.is_active == filters["is_active"])
    return statement


def page_of_users(filters: dict, view: type[PublicUserSchema]) -> dict:
    """A page of the users the filters select, in the requested order. Totals come from the
    counts the database keeps (``RowCount``), except for free-text filters."""
    statement = users_matching(filters)
    order = SORTS[filters["sort"]]
    if "q" in filters:
        return paginate(statement, filters, order, view, exact_up_to=EXACT_TEXT_MATCHES)
    total = User.count_of(filters.get("role"), filters.get("is_active"))
    if "role" in filters or "is_active" in filters:
        matches = db.session.scalar(select(total))
        if matches <= FEW:
            statement, order = sorted_apart(statement, filters["sort"])
        total = literal(matches)
    return paginate(statement, filters, order, view, total=total)


def refuse_taken(username: str | None, email: str | None, exclude_id: int | None = None) -> None:
    taken = User.taken_fields(username, email, exclude_id)
    if taken:
        raise ApiError(409, "conflict", "The username or e-mail is already in use.", taken)


def user_location(user: User) -> dict[str, str]:
    return {"Location": url_for("users.UserById", user_id=user.user_id)}


@blp.route("")
class Users(MethodView):
    @blp.auth_required
    @query_args(blp, UserListArgsSchema)
    @blp.response(200, PublicUserPageSchema)
    def get(self, filters):
        """List users (public view), filtered, sorted and a page at a time."""
        if "is_active" in filters and not is_staff():
            raise ApiError(403, "forbidden", "Only admins and operators may filter on is_active.")
        return page_of_users(filters, PublicUserSchema)

    @blp.roles_required("admin")
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
    @blp.auth_required
    @blp.response(200, SelfUserSchema)
    def get(self):
        """Show the signed-in user's own profile."""
        return current_user()

    @blp.fresh_auth_required
    @blp.alt_response(409, **TAKEN)
    @blp.alt_response(
        202,
        schema=PendingEmailSchema,
        description="With EMAIL_CONFIRMATION=true: nothing changes until the link sent to the "
        "new address is used (POST /users/me/email/confirm); the answer is the same whether or "
        "not another account has the address.",
    )
    @blp.arguments(SelfUpdateSchema)
    @blp.response(200, SelfUserSchema)
    def patch(self, changes):
        """Change your own e-mail address (the only field you may change yourself); with
        EMAIL_CONFIRMATION, once the link sent to the new address is used."""
        user = current_user()
        if current_app.config["EMAIL_CONFIRMATION"]:
            request_email_change(user, changes["email"])
            pending = PendingEmailSchema().dump({"pending_email": changes["email"]})
            return make_response(pending, 202)
        refuse_taken(None, changes["email"], exclude_id=user.user_id)
        change_email(user, changes["email"])
        db.session.commit()
        return user


@blp.route("/me/password", methods=["PUT"])
@blp.auth_required(
    unauthorized="invalid_credentials (the current password is wrong, see "
    "details.current_password), or no usable token: missing_token, invalid_token, "
    "token_expired or token_revoked."
)
@blp.arguments(ChangePasswordSchema)
@blp.response(200, TokenSchema)
def change_password(payload):
    """Change your password: this session gets new tokens, every other session ends."""
    user = current_user()
    # A failed check is a failed login (invalid_credentials, counted towards the lockout), not a
    # token problem.
    factors.prove(user, factors.password(user, payload["current_password"], "current_password"))
    session = current_session(lock=True)
    set_password(user, payload["new_password"], field_name="new_password")
    end_sessions(user.user_id, "password_changed", keep=session.id)
    answer = session_answer(user, session, renew(session))
    db.session.commit()
    return respond_with_tokens(answer, TokenSchema)


@blp.route("/admin-only")
@blp.roles_accepted(*STAFF_ROLES)
@query_args(blp, UserListArgsSchema)
@blp.response(200, AdminUserPageSchema)
def admin_only(filters):
    """List users with every administrative field, filtered, sorted and a page at a time."""
    return page_of_users(filters, AdminUserSchema)


@blp.route("/<int:user_id>")
class UserById(MethodView):
    @blp.auth_required
    @blp.alt_response(404, **NO_SUCH_USER)
    @blp.doc(responses=ONE_OF_THE_VIEWS)
    def get(self, user_id: int):
        """Show one user, with as much detail as the viewer may see."""
        user = user_or_404(user_id)
        if is_staff():
            view = AdminUserSchema()
        elif current_user_id() == user.user_id:
            view = SelfUserSchema()
        else:
            view = PublicUserSchema()
        return view.dump(user)

    @blp.roles_required("admin")
    @blp.alt_response(404, **NO_SUCH_USER)
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description=f"conflict: the e-mail is taken, or {LOCKOUT} (demote or deactivate).",
    )
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, AdminUserSchema)
    def patch(self, changes, user_id: int):
        """Change an account's e-mail, roles or status; a role or status change ends its
        sessions."""
        user = user_or_404(user_id)
        protect_admins(
            current_user(), user, roles=changes.get("roles"), is_active=changes.get("is_active")
        )
        if "email" in changes:
            refuse_taken(None, changes["email"], exclude_id=user.user_id)
            change_email(user, changes["email"])
        if "roles" in changes and set(changes["roles"]) != set(user.rolenames):
            user.rolenames = changes["roles"]
            end_sessions(user.user_id, "roles_changed")
        if "is_active" in changes and changes["is_active"] != user.is_active:
            user.is_active = changes["is_active"]
            end_sessions(user.user_id, "deactivated" if not user.is_active else "activated")
        db.session.commit()
        return user

    @blp.roles_required("admin")
    @blp.alt_response(404, **NO_SUCH_USER)
    @blp.alt_response(409, schema=ErrorSchema, description=f"conflict: {LOCKOUT}.")
    @blp.response(204)
    def delete(self, user_id: int):
        """Delete an account and everything it owns; its sessions end with it."""
        user = user_or_404(user_id)
        protect_admins(current_user(), user, deleting=True)
        db.session.delete(user)
        db.session.commit()
