"""The user: credentials, roles and account state, as flask-praetorian expects them."""

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    LargeBinary,
    ScalarSelect,
    String,
    Text,
    and_,
    bindparam,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.identity import (
    EMAIL_TAKEN,
    USERNAME_LIKE_STAFF,
    USERNAME_TAKEN,
    canonical,
    skeleton,
)
from app.models.columns import timestamp_column
from app.models.organization import Membership
from app.models.role import BUILT_IN_ROLES, AuthorizationVersion
from app.models.row_count import RowCount
from app.models.session import SessionState, UserSession

# The built-in staff roles: a new username may not pass for one of their holders' names.
STAFF_ROLES = ("admin", "operator")


class User(db.Model):
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
    # Bumped whenever every token of the user must stop working (see app.guard).
    token_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # TOTP (app.accounts.mfa): the secret, encrypted (Fernet); when it was confirmed, which turned
    # MFA on; the last time step a code was accepted for (a code works once).
    totp_secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    mfa_enabled_at: Mapped[datetime | None] = timestamp_column(nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The WebAuthn user handle (random bytes, not the id: app.accounts.passkeys), set with the
    # account's first passkey.
    webauthn_handle: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, unique=True)
    # False for an account made by a provider sign-in until its holder sets a password (reset):
    # its password is then random, no way in (app.signin.oidc).
    password_set: Mapped[bool] = mapped_column(default=True, server_default=true())

    @property
    def identity(self) -> int:
        """The id flask-praetorian puts in tokens."""
        return self.user_id

    def is_valid(self) -> bool:
        """Whether praetorian may issue or refresh a token for this user."""
        return self.may_sign_in

    @property
    def mfa_enabled(self) -> bool:
        return self.mfa_enabled_at is not None

    @hybrid_property
    def may_sign_in(self) -> bool:
        """Two separate facts: an admin has not deactivated the account (``is_active``), and
        its e-mail address is confirmed when confirmation is required (``email_confirmed``).
        Confirming an address never undoes a deactivation. (In SQL too: ``User.may_sign_in``.)"""
        return self.is_active and self.email_confirmed

    @may_sign_in.inplace.expression
    @classmethod
    def _may_sign_in_expression(cls):
        return and_(cls.is_active, cls.email_confirmed)

    @property
    def rolenames(self) -> list[str]:
        """The user's roles as a list, as flask-praetorian reads them."""
        return split_roles(self.roles)

    @rolenames.setter
    def rolenames(self, names: list[str]) -> None:
        """The built-in roles first, in their order, then the others by name."""
        self.roles = ",".join(sorted(set(names), key=role_order))

    @classmethod
    def lookup(cls, username: str) -> "User | None":
        """The user with this username, ignoring case (flask-praetorian's hook, and the login's
        look-up)."""
        statement = select(cls).where(cls.lowered_username == canonical(username))
        return db.session.scalars(statement).first()

    @hybrid_property
    def lowered_username(self) -> str:
        """The username in lower case: what uniqueness and the username order go by."""
        return self.username.lower()

    @lowered_username.inplace.expression
    @classmethod
    def _lowered_username_expression(cls) -> ColumnElement[str]:
        return func.lower(cls.username, type_=String)

    @classmethod
    def username_contains(cls, text: str) -> ColumnElement[bool]:
        """SQL: the username contains ``text``, ignoring case (served by a trigram index)."""
        return cls.lowered_username.contains(canonical(text), autoescape=True)

    @classmethod
    def username_starts(cls, text: str) -> ColumnElement[bool]:
        """SQL: the username starts with ``text``, ignoring case (served by a pattern index,
        whatever the database's collation)."""
        return cls.lowered_username.startswith(canonical(text), autoescape=True)

    @classmethod
    def count_of(cls, role: str | None = None, is_active: bool | None = None) -> ScalarSelect:
        """SQL: how many users there are (with ``role``, and active or not). The database keeps
        these counts exact in the writing transaction (``RowCount``): no list counts its rows."""
        facets = []
        if role is not None:
            facets.append(f"role={role}")
        if is_active is not None:
            facets.append(f"is_active={'true' if is_active else 'false'}")
        return RowCount.count_of(cls.__tablename__, "&".join(facets))

    @classmethod
    def has_role(cls, role: str) -> ColumnElement[bool]:
        """SQL: the user has ``role`` (served by a GIN index on the split roles)."""
        return role_array(cls.roles).contains(array([role]))

    @classmethod
    def taken_fields(
        cls, username: str | None, email: str | None, exclude_id: int | None = None
    ) -> dict[str, list[str]]:
        """Which of ``username`` and ``email`` another account already has (in canonical form),
        and whether ``username`` would pass for a staff account's name (``app.identity``)."""
        conditions = []
        if username is not None:
            conditions.append(cls.lowered_username == canonical(username))
            conditions.append(cls.has_role("admin") | cls.has_role("operator"))
        if email is not None:
            # An address belongs to the account that confirmed it (unconfirmed ones hold none).
            conditions.append((func.lower(cls.email) == canonical(email)) & cls.email_confirmed)
        if not conditions:
            return {}
        statement = select(cls.username, cls.email, cls.email_confirmed).where(or_(*conditions))
        if exclude_id is not None:
            statement = statement.where(cls.user_id != exclude_id)
        rows = db.session.execute(statement).all()
        taken: dict[str, list[str]] = {}
        if username and any(canonical(row.username) == canonical(username) for row in rows):
            taken["username"] = [USERNAME_TAKEN]
        elif username and any(skeleton(row.username) == skeleton(username) for row in rows):
            taken["username"] = [USERNAME_LIKE_STAFF]
        if email and any(
            row.email_confirmed and canonical(row.email) == canonical(email) for row in rows
        ):
            taken["email"] = [EMAIL_TAKEN]
        return taken

    @classmethod
    def with_email(cls, email: str) -> "User | None":
        """The account that has ``email`` (canonical form): the one that confirmed it."""
        return db.session.scalar(
            select(cls).where(func.lower(cls.email) == canonical(email), cls.email_confirmed)
        )

    @classmethod
    def token_subject(
        cls, user_id: int, session_id: int | None, organization_id: int | None = None
    ) -> "TokenSubject":
        """What an access token names: its user, the state of its session (None when it names
        none, or another user's), the authorization version (what roles grant,
        ``app.access.permissions``), and whether the user is still a member of the organization
        the token is bound to. One statement, since every authenticated request runs it."""
        row = db.session.execute(
            TOKEN_SUBJECT,
            {"user_id": user_id, "session_id": session_id, "organization_id": organization_id},
        ).first()
        if row is None:
            return TokenSubject(None, None, None, False)
        session = None
        if row.session_id is not None:
            session = SessionState(
                id=row.session_id,
                ended_at=row.ended_at,
                expires_at=row.expires_at,
                idle_expires_at=row.idle_expires_at,
                authenticated_at=row.authenticated_at,
                authenticated_jti=row.authenticated_jti,
                generation=row.generation,
            )
        return TokenSubject(
            row.User, session, row.authorization_version, row.membership_id is not None
        )

    @classmethod
    def identify(cls, user_id: int) -> "User | None":
        """The user with this id (from the session's identity map when already loaded)."""
        return db.session.get(cls, user_id)

    def __repr__(self) -> str:
        return f"<User {self.user_id} {self.username!r}>"


# What roles grant is current as of this version (read with every token).
AUTHORIZATION_VERSION = (
    select(AuthorizationVersion.version).scalar_subquery().label("authorization_version")
)
# Built once: building a statement (and its cache key) costs more than running this one.
TOKEN_SUBJECT = (
    select(
        User,
        UserSession.id.label("session_id"),
        UserSession.ended_at,
        UserSession.expires_at,
        UserSession.idle_expires_at,
        UserSession.authenticated_at,
        UserSession.authenticated_jti,
        UserSession.generation,
        AUTHORIZATION_VERSION,
        Membership.id.label("membership_id"),
    )
    .outerjoin(
        UserSession,
        (UserSession.id == bindparam("session_id")) & (UserSession.user_id == User.user_id),
    )
    .outerjoin(
        Membership,
        (Membership.organization_id == bindparam("organization_id"))
        & (Membership.user_id == User.user_id),
    )
    .where(User.user_id == bindparam("user_id"))
)


class TokenSubject(NamedTuple):
    user: User | None
    session: SessionState | None
    authorization_version: int | None
    member: bool


def role_order(name: str) -> tuple[int, str]:
    return (
        (BUILT_IN_ROLES.index(name), "") if name in BUILT_IN_ROLES else (len(BUILT_IN_ROLES), name)
    )


def split_roles(roles: str | None) -> list[str]:
    return [role for role in (roles or "").split(",") if role]


def role_array(roles) -> ColumnElement:
    """SQL: the comma-separated ``roles`` as an array (what the roles index holds)."""
    return func.string_to_array(roles, ",", type_=ARRAY(Text))
