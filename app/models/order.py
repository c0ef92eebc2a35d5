"""A list's order: the key columns that together are unique, all in one direction, so that one
row comparison ``(k1, k2) > (v1, v2)`` finds where a page starts."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, tuple_
from sqlalchemy.types import DateTime, Integer, String


@dataclass(frozen=True)
class Order:
    """Key columns that together are unique (end them with the primary key), one direction."""

    keys: tuple[ColumnElement, ...]
    descending: bool = False

    def by(self, reverse: bool = False) -> list[ColumnElement]:
        """ORDER BY clauses, or the opposite order with ``reverse``."""
        down = self.descending != reverse
        return [key.desc() if down else key.asc() for key in self.keys]

    def beyond(self, values: Sequence, reverse: bool = False) -> ColumnElement:
        """The rows after ``values`` in this order (before them with ``reverse``)."""
        row, bound = tuple_(*self.keys), tuple_(*values)
        return row < bound if self.descending != reverse else row > bound

    @property
    def fingerprint(self) -> str:
        """Names this order in its cursors."""
        text = ";".join(str(key) for key in self.keys) + (" desc" if self.descending else "")
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def key_values(self, raw: list) -> list | None:
        """A cursor's key values as this order's column types, or None if they are not."""
        if len(raw) != len(self.keys):
            return None
        values = [_typed(value, key.type) for value, key in zip(raw, self.keys, strict=True)]
        return None if NOT_A_KEY in values else values


NOT_A_KEY = object()


def _typed(value, column_type):
    if isinstance(column_type, DateTime) and isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return NOT_A_KEY
    if isinstance(column_type, Integer) and type(value) is int:
        return value
    if isinstance(column_type, String) and isinstance(value, str):
        return value
    return NOT_A_KEY


def jsonable(value):
    """A key value as a cursor carries it."""
    return value.isoformat() if isinstance(value, datetime) else value
