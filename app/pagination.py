"""Turn a ``select()`` into the contract's page envelope (``items``, ``_meta``, ``_links``)."""

import math
from urllib.parse import urlencode

from flask import request
from sqlalchemy import Select, func, select

from app.extensions import db


def paginate(statement: Select, page: int, per_page: int) -> dict:
    """One page of ``statement``'s rows with the totals and links clients need."""
    total_items = db.session.scalar(
        select(func.count()).select_from(statement.order_by(None).subquery())
    )
    offset = (page - 1) * per_page
    # A page past the end has no rows; not asking also keeps absurd pages (an OFFSET beyond
    # PostgreSQL's bigint) from reaching the database.
    items = (
        db.session.scalars(statement.limit(per_page).offset(offset)).all()
        if offset < total_items
        else []
    )
    total_pages = math.ceil(total_items / per_page) if total_items else 0
    last_page = max(total_pages, 1)
    return {
        "items": items,
        "meta": {
            "page": page,
            "per_page": per_page,
            "total_pages": total_pages,
            "total_items": total_items,
        },
        "links": {
            "self": page_url(page, per_page),
            "next": page_url(page + 1, per_page) if page < total_pages else None,
            "prev": page_url(min(page - 1, last_page), per_page) if page > 1 else None,
            "first": page_url(1, per_page),
            "last": page_url(last_page, per_page),
        },
    }


def page_url(page: int, per_page: int) -> str:
    """This request's path and query with another page; other parameters are kept."""
    others = [
        (name, value)
        for name, values in request.args.lists()
        if name not in {"page", "per_page"}
        for value in values
    ]
    query = urlencode([("page", page), ("per_page", per_page), *others])
    return f"{request.path}?{query}"
