"""Users: the directory, one's own profile, and administration of any account.

What the directory's filters select and how PostgreSQL finds them is ``app.models.user_list``;
who may see what of a user is one rule, ``view_for``; the admin safeguards (no demoting oneself
or the last admin) are ``app.access.safeguards``.
"""

from flask import current_app, make_response, url_for
from flask.views import MethodView
from flask_praetorian import current_user_id

from app.access import roles
from app.access.permissions import (
    PROFILE,
    USERS_INSPECT,
    USERS_READ,
    USERS_WRITE,
    forbidden,
    holds,
)
from app.access.safeguards import one_change_at_a_time, protect_admins
from app.access.sessions import end_sessions
from app.accounts import personal_tokens
from app.accounts.deletion import delete_account
from app.accounts.email_change import change_email, request_email_change
from app.api.blueprint import Blueprint
from app.api.docs import one_of_response
from app.api.lookup import user_or_404
from app.errors import ApiError
from app.extensions import db, guard
from app.guard import current_user
from app.models import User
from app.models.user_list import listing
from app.pagination import paginate
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

blp = Blueprint(
    "users",
    __name__,
    url_prefix="/users",
    description="User accounts.",
    links={"users": "users.Users", "me": "users.Me", "admin_users": "users.admin_only"},
)

NO_SUCH_USER = {"schema": ErrorSchema, "description": "No user has that id (not_found)."}
LOCKOUT = "it would remove yourself or the last active admin"
TAKEN = {"schema": ErrorSchema, "description": "conflict: the username or e-mail is taken."}


def view_for(user: User) -> type[PublicUserSchema]:
    """What the signed-in user may see of ``user``: staff the admin view, a user their own
    profile, anyone else the public view."""
    if holds(USERS_INSPECT):
        return AdminUserSchema
    return SelfUserSchema if current_user_id() == user.user_id else PublicUserSchema


def refuse_taken(username: str | None, email: str | None, exclude_id: int | None = None) -> None:
    taken = User.taken_fields(username, email, exclude_id)
    if taken:
        raise ApiError(409, "conflict", "The username or e-mail is already in use.", taken)


@blp.route("")
class Users(MethodView):
    @blp.auth_required(USERS_READ)
    @blp.list_arguments(UserListArgsSchema)
    @blp.response(200, PublicUserPageSchema)
    def get(self, filters):
        """List users (public view), filtered, sorted and a page at a time."""
        if "is_active" in filters and not holds(USERS_INSPECT):
            raise forbidden([USERS_INSPECT])
        return paginate(args=filters, schema=PublicUserSchema, **listing(filters))

    @blp.auth_required(USERS_WRITE)
    @blp.alt_response(409, **TAKEN)
    @blp.arguments(UserCreateSchema)
    @blp.response(201, AdminUserSchema)
    def post(self, account):
        """Create an account with any roles (none granting what you lack), active or not."""
        roles.refuse_unknown_roles(account["roles"])
        roles.refuse_escalation(roles.grants(account["roles"]))
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
        return user, 201, {"Location": url_for("users.UserById", user_id=user.user_id)}


@blp.route("/me")
class Me(MethodView):
    @blp.auth_required(PROFILE)
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

    @blp.fresh_auth_required
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="conflict: an admin does not delete themself; nor does an organization's "
        "last owner while it has other members.",
    )
    @blp.response(204)
    def delete(self):
        """Delete your account and everything it holds: every token stops at once, a notice
        is e-mailed, and what the audit trail keeps of you is your id alone."""
        user = current_user()
        delete_account(user, actor=user)
        db.session.commit()


@blp.route("/admin-only")
@blp.auth_required(USERS_INSPECT)
@blp.list_arguments(UserListArgsSchema)
@blp.response(200, AdminUserPageSchema)
def admin_only(filters):
    """List users with every administrative field, filtered, sorted and a page at a time."""
    return paginate(args=filters, schema=AdminUserSchema, **listing(filters))


@blp.route("/<int:user_id>")
class UserById(MethodView):
    @blp.auth_required(USERS_READ)
    @blp.alt_response(404, **NO_SUCH_USER)
    @blp.doc(
        responses=one_of_response(
            "The public view; the self view for oneself; the admin view for admins and operators.",
            PublicUserSchema,
            SelfUserSchema,
            AdminUserSchema,
        )
    )
    def get(self, user_id: int):
        """Show one user, with as much detail as the viewer may see."""
        user = user_or_404(user_id)
        return view_for(user)().dump(user)

    @blp.auth_required(USERS_WRITE)
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
        sessions, a deactivation its personal tokens too."""
        one_change_at_a_time()
        user = user_or_404(user_id)
        if "roles" in changes:
            roles.refuse_unknown_roles(changes["roles"])
        roles.refuse_escalation(
            roles.grants(user.rolenames), roles.grants(changes.get("roles", ()))
        )
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
            if not user.is_active:
                personal_tokens.revoke_all(user.user_id, "deactivated")
        db.session.commit()
        return user

    @blp.auth_required(USERS_WRITE)
    @blp.alt_response(404, **NO_SUCH_USER)
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description=f"conflict: {LOCKOUT}; or an organization's last owner, while it has other "
        "members.",
    )
    @blp.response(204)
    def delete(self, user_id: int):
        """Delete an account and everything it owns; its tokens stop at once, a notice is
        e-mailed, and what the audit trail keeps of it is its id alone."""
        delete_account(user_or_404(user_id), actor=current_user())
        db.session.commit()
