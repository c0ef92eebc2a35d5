"""A schema's dump of a model's rows, built by PostgreSQL: the fast path of list pages.

Loading a page's rows as ORM objects and dumping them with marshmallow costs more than the rest
of a list request. ``sql_dump`` reads a schema once and builds one SQL expression,
``json_build_object(...)``, that PostgreSQL evaluates for each row; psycopg2 hands each result
over as the dict marshmallow would have produced. It writes Integer, String and Boolean fields of
columns of the same type, ``UtcDateTime`` fields of timezone-aware columns, and ``Method`` fields
whose schema has a twin ``<method>_sql`` building the same value in SQL. For a schema with any
other field (or a dump hook) it returns None, and the page is dumped by marshmallow: nothing has
to be written twice for a list to work. The tests compare both dumps field by field.
"""

from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import Boolean, ColumnElement, DateTime, Integer, String, func, inspect
from sqlalchemy.sql.elements import literal_column

from app.schemas.common import UtcDateTime

# How ``UtcDateTime`` writes a time: ``isoformat(timespec="seconds")`` of the time in UTC.
ISO_SECONDS = literal_column('\'YYYY-MM-DD"T"HH24:MI:SS"+00:00"\'')
UTC = literal_column("'UTC'")


class SqlDump:
    """``expression`` builds one row's dump; ``params()`` are the bind values the schema's
    ``Method`` twins need for this request."""

    def __init__(self, schema: Schema, expression: ColumnElement) -> None:
        self.schema = schema
        self.expression = expression

    def params(self) -> dict[str, Any]:
        sql_params = getattr(self.schema, "sql_params", None)
        return sql_params() if sql_params else {}


def _value(field: fields.Field, column) -> ColumnElement | None:
    """The SQL writing ``field``'s value from ``column``, or None when it cannot be written
    exactly as marshmallow writes it."""
    kind, column_type = type(field), column.type
    if kind is fields.Integer and not field.as_string and isinstance(column_type, Integer):
        return column
    if kind is fields.String and isinstance(column_type, String):
        return column
    if kind is fields.Boolean and isinstance(column_type, Boolean):
        return column
    if kind is UtcDateTime and isinstance(column_type, DateTime) and column_type.timezone:
        return func.to_char(func.timezone(UTC, column), ISO_SECONDS)
    return None


def sql_dump(schema: Schema, model: type) -> SqlDump | None:
    """``schema``'s dump of a ``model`` row built by PostgreSQL, or None when the schema has a
    field (or a dump hook) this module cannot write exactly."""
    if any(schema._hooks.get(tag) for tag in ("pre_dump", "post_dump")):
        return None
    columns = inspect(model).columns
    members: list = []
    for name, field in schema.dump_fields.items():
        if isinstance(field, fields.Method):
            twin = getattr(schema, f"{field.serialize_method_name}_sql", None)
            value = twin(columns) if twin else None
        else:
            attribute = field.attribute or name
            value = _value(field, columns[attribute]) if attribute in columns else None
        if value is None:
            return None
        members += [literal_column(_sql_string(field.data_key or name)), value]
    return SqlDump(schema, func.json_build_object(*members))


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
