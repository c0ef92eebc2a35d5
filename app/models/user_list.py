"""The user directory: what its filters select, its orders, and how PostgreSQL is led to the
few users a filter picks out of a million.

- ``q``: part of the username, ignoring case; from 3 characters anywhere in it (a trigram
  index), shorter ones at its start (a prefix, through its own index): one or two letters
  anywhere would match nearly everyone.
- ``role`` and ``is_active`` read the counters the database keeps (``RowCount``) for their
  totals. A role or status held by at most ``FEW`` users is read through its own index and
  sorted apart; a commoner one is read in the list's order, filtered. PostgreSQL cannot tell
  which (its statistics sample misses the ten admins among a million users, and walks the
  whole list looking for them); the counters can.
- A free-text filter's total is exact up to ``EXACT_TEXT_MATCHES``, PostgreSQL's estimate above.
"""

from sqlalchemy import Select, literal, select

from app.extensions import db
from app.models.order import Order
from app.models.user import User

SORTS = {
    "username": Order((User.lowered_username,)),
    "-username": Order((User.lowered_username,), descending=True),
    "created_at": Order((User.created_datetime, User.user_id)),
    "-created_at": Order((User.created_datetime, User.user_id), descending=True),
}
DEFAULT_SORT = "created_at"
EXACT_TEXT_MATCHES = 10_000
FEW = 10_000
PREFIX_BELOW = 3


def users_matching(filters: dict) -> Select:
    """The users the list's filters select."""
    statement = select(User)
    if filters.get("q"):
        text = filters["q"]
        matches = User.username_starts if len(text) < PREFIX_BELOW else User.username_contains
        statement = statement.where(matches(text))
    if "role" in filters:
        statement = statement.where(User.has_role(filters["role"]))
    if "is_active" in filters:
        statement = statement.where(User.is_active == filters["is_active"])
    return statement


def listing(filters: dict) -> dict:
    """``paginate``'s statement, order and total (or counting limit) for the filters."""
    statement = users_matching(filters)
    order = SORTS[filters["sort"]]
    if filters.get("q"):
        return {"statement": statement, "order": order, "exact_up_to": EXACT_TEXT_MATCHES}
    total = User.count_of(filters.get("role"), filters.get("is_active"))
    if "role" in filters or "is_active" in filters:
        matches = db.session.scalar(select(total))
        if matches <= FEW:
            statement, order = sorted_apart(statement, filters["sort"])
        total = literal(matches)
    return {"statement": statement, "order": order, "total": total}


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
