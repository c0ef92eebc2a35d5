"""The user: credentials, roles and account state, as flask-praetorian expects them."""

from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Index,
    String,
    Text,
    bindparam,
    exists,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.orm import Mapped, mapped_column

from app.database import PreparedRead, read_row
from app.extensions import db
from app.models.columns import timestamp_column
from app.models.revoked_token import RevokedToken

ROLES = ("admin", "operator", "user")
# Read-only staff and admins: they see the admin view of users and the audit trail.
STAFF_ROLES = ("admin", "operator")


class Principal:
    """What flask-praetorian reads of a user, the same on the ORM ``User`` and on its read-only
    ``Account`` snapshot."""

    __slots__ = ()

    @property
    def identity(self) -> int:
        """The id flask-praetorian puts in tokens."""
        return self.user_id

    def is_valid(self) -> bool:
        """Whether praetorian may issue or refresh a token for this user."""
        return self.is_active


class User(Principal, db.Model):
    """An account. ``password`` holds the hash; ``roles`` is a comma-separated list."""

    __tablename__ = "users"

    user_id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(254))
    password: Mapped[str] = mapped_column(String(255))
    roles: Mapped[str] = mapped_column(Text, default="user", server_default="user")
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())
    email_confirmed: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_datetime: Mapped[datetime] = timestamp_column()
    updated_at: Mapped[datetime] = timestamp_column(onupdate=True)
    password_changed_at: Mapped[datetime] = timestamp_column()
    last_login_at: Mapped[datetime | None] = timestamp_column(nullable=True)
    failed_login_count: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None] = timestamp_column(nullable=True)
    # Bumped whenever every token of the user must stop working (see app.auth.guard).
    token_version: Mapped[int] = mapped_column(default=0, server_default="0")

    @property
    def rolenames(self) -> list[str]:
        """The user's roles as a list, as flask-praetorian reads them."""
        return split_roles(self.roles)

    @rolenames.setter
    def rolenames(self, names: list[str]) -> None:
        self.roles = ",".join(sorted(set(names), key=ROLES.index))

    @classmethod
    def lookup(cls, username: str) -> "User | None":
        """The user with this username, ignoring case (flask-praetorian requires this hook;
        logins read an ``Account`` instead, see ``Account.lookup``)."""
        statement = select(cls).where(func.lower(cls.username) == username.lower())
        return db.session.scalars(statement).first()

    @classmethod
    def has_role(cls, role: str) -> ColumnElement[bool]:
        """SQL: the user has ``role`` (served by a GIN index on the split roles)."""
        return _role_array(cls.roles).contains(array([role]))

    @classmethod
    def taken_fields(
        cls, username: str | None, email: str | None, exclude_id: int | None = None
    ) -> dict[str, list[str]]:
        """Which of ``username`` and ``email`` another account already has (ignoring case)."""
        conditions = []
        if username is not None:
            conditions.append(func.lower(cls.username) == username.lower())
        if email is not None:
            conditions.append(func.lower(cls.email) == email.lower())
        if not conditions:
            return {}
        statement = select(cls.username, cls.email).where(or_(*conditions))
        if exclude_id is not None:
            statement = statement.where(cls.user_id != exclude_id)
        rows = db.session.execute(statement).all()
        taken: dict[str, list[str]] = {}
        if username and any(row.username.lower() == username.lower() for row in rows):
            taken["username"] = ["That username is taken."]
        if email and any(row.email.lower() == email.lower() for row in rows):
            taken["email"] = ["That e-mail address is already registered."]
        return taken

    @classmethod
    def token_subject(cls, user_id: int, jti: str) -> "tuple[Account | None, bool]":
        """The account a token names, and whether that token was revoked: one round trip, since
        it runs on every authenticated request."""
        row = read_row(TOKEN_SUBJECT, {"user_id": user_id, "jti": jti})
        return (Account(row), row.revoked) if row else (None, False)

    @classmethod
    def identify(cls, user_id: int) -> "User | None":
        """The user with this id (from the session's identity map when already loaded)."""
        return db.session.get(cls, user_id)

    def __repr__(self) -> str:
        return f"<User {self.user_id} {self.username!r}>"


def split_roles(roles: str | None) -> list[str]:
    return [role for role in (roles or "").split(",") if role]


class Account(Principal):
    """A user's row as loaded with the token on every authenticated request and by a login: a
    read-only snapshot with the user's column attributes, enough to check the token, to sign in
    and to answer reads such as ``GET /users/me`` without building an ORM object (which costs
    more than the query). Views that change the user load the ``User`` (``current_user()``)."""

    __slots__ = tuple(column.key for column in User.__table__.columns)

    def __init__(self, row) -> None:
        """Take the user columns ``row`` has (a list may select only the columns it shows)."""
        for name, value in zip(row._fields, row, strict=True):
            if name in ACCOUNT_FIELDS:
                setattr(self, name, value)

    @property
    def rolenames(self) -> list[str]:
        return split_roles(self.roles)

    @classmethod
    def lookup(cls, username: str) -> "Account | None":
        """The account with this username, ignoring case (one prepared read, outside any
        transaction)."""
        row = read_row(ACCOUNT_BY_USERNAME, {"lowered": username.lower()})
        return cls(row) if row else None


ACCOUNT_FIELDS = frozenset(Account.__slots__)

# Every login runs it.
ACCOUNT_BY_USERNAME = PreparedRead(
    select(*User.__table__.columns).where(func.lower(User.username) == bindparam("lowered"))
)

# Every authenticated request runs it: the account's columns and the token's revocation.
TOKEN_SUBJECT = PreparedRead(
    select(
        *User.__table__.columns,
        exists().where(RevokedToken.jti == bindparam("jti")).label("revoked"),
    ).where(User.user_id == bindparam("user_id"))
)


def _role_array(roles) -> ColumnElement:
    return func.string_to_array(roles, ",", type_=ARRAY(Text))


Index("uq_users_username_lower", func.lower(User.username), unique=True)
Index("uq_users_email_lower", func.lower(User.email), unique=True)
Index("ix_users_roles", _role_array(User.roles), postgresql_using="gin")
Index("ix_users_created", User.created_datetime, User.user_id)
