"""Links to pages of the list a request reads: the same endpoint and path (``url_for``, so a
mount prefix is kept, as in item links), another page, and the filters and sort the list's
schema loaded from the request's query string, as the client sent them. A query parameter the
schema does not know never reaches a link (it could collide with the route's own arguments,
or with ``url_for``'s: ``_external``, ``_scheme``)."""

from urllib.parse import urlencode

from flask import request, url_for

from app.pagination.cursor import Cursor

PAGING = {"page", "per_page", "cursor"}


def query_value(value) -> str:
    """A loaded query argument written back as a query string carries it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class PageLinks:
    """Links to other pages of this request's list."""

    def __init__(self, order: str, per_page: int, args: dict) -> None:
        self.order = order
        self.per_page = per_page
        sent = set(request.args)
        self.filters = {
            name: query_value(value)
            for name, value in args.items()
            if name not in PAGING and name in sent
        }
        self.base = url_for(request.endpoint, **(request.view_args or {}))

    def cursor(self, page: int, keys: list | None = None, **where) -> Cursor:
        return Cursor(self.order, page, keys, **where)

    def to(self, page: int, cursor: Cursor | None = None) -> str:
        query = {"page": page, "per_page": self.per_page, **self.filters}
        if cursor is not None:
            query["cursor"] = cursor.encode()
        return f"{self.base}?{urlencode(query)}"

    def last(self, last_page: int) -> str:
        """The last page, by a cursor that finds it from the list's end (page 1: no cursor)."""
        return self.to(last_page, self.cursor(last_page, last=True) if last_page > 1 else None)
