"""The users table's indexes: what the user lists, the uniqueness rules and the searches go by
(migrations 0006 and later create them)."""

from sqlalchemy import Index, func

from app.models.user import User, role_array

# The list orders' indexes include what the filters read, so that a page deep in a list,
# filtered by role or status, is found in the index alone (migration 0006).
LIST_FILTER_COLUMNS = ["username", "roles", "is_active"]
Index(
    "uq_users_username_lower",
    func.lower(User.username),
    unique=True,
    postgresql_include=["user_id", *LIST_FILTER_COLUMNS],
)
# An address is unique among the accounts that confirmed it; unconfirmed accounts (with
# EMAIL_CONFIRMATION) may share one until one of them confirms it (app/registration.py).
Index(
    "uq_users_email_lower",
    func.lower(User.email),
    unique=True,
    postgresql_where=User.email_confirmed,
)
Index(
    "ix_users_email_unconfirmed",
    func.lower(User.email),
    postgresql_where=~User.email_confirmed,
)
Index("ix_users_roles", role_array(User.roles), postgresql_using="gin")
Index(
    "ix_users_created",
    User.created_datetime,
    User.user_id,
    postgresql_include=LIST_FILTER_COLUMNS,
)
# The few inactive users (app/api/users.py reads a list of them through it).
Index("ix_users_inactive", User.user_id, postgresql_where=~User.is_active)
# ``q`` of 1 or 2 characters, a prefix: text_pattern_ops serves LIKE 'ab%' in any collation.
Index(
    "ix_users_username_prefix",
    func.lower(User.username).label("lowered"),
    postgresql_ops={"lowered": "text_pattern_ops"},
)
# ``q``, the substring filter (pg_trgm).
Index(
    "ix_users_username_trigrams",
    func.lower(User.username).label("lowered"),
    postgresql_using="gin",
    postgresql_ops={"lowered": "gin_trgm_ops"},
)
# An organization's ``q`` on members also matches e-mail addresses, for its member managers.
Index(
    "ix_users_email_trigrams",
    func.lower(User.email).label("lowered"),
    postgresql_using="gin",
    postgresql_ops={"lowered": "gin_trgm_ops"},
)
