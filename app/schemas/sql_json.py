"""A schema's dump written by PostgreSQL: each row's JSON text, byte for byte what the app's JSON
provider writes for the Python dump (compact, keys sorted, ASCII), for the lists clients read
most.

Even compiled (``app.schemas.dumper``), turning a page of rows into Python objects, dumping them
and encoding the result cost more than anything else a list request does. ``compile_json_sql``
reads the schema once and builds one SQL expression that writes a row's JSON text from the
columns its fields read; the page's texts are then spliced into the envelope
(``app.pagination.page_response``), never parsed. The schema stays the one description of the
output. This module writes Integer, String, Boolean and ``UtcDateTime`` fields of columns of the
matching type, and ``Method`` fields whose schema has a twin method ``<method>_sql`` building
the same JSON in SQL; for a schema with any other field, ``compile_json_sql`` returns None. The
tests compare both outputs byte for byte.
"""

import json
from collections.abc import Callable, Mapping
from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import Boolean, ColumnElement, DateTime, Integer, String, Text, func, inspect
from sqlalchemy import cast as sql_cast
from sqlalchemy.sql.elements import Label, literal_column

from app.schemas.common import UtcDateTime

# How ``UtcDateTime`` writes a time: ``isoformat(timespec="seconds")`` of the time in UTC.
ISO_SECONDS_UTC = "'YYYY-MM-DD\"T\"HH24:MI:SS'"


def sql_text(value: str) -> ColumnElement:
    """A constant piece of JSON text, as an SQL string literal."""
    return literal_column("'" + value.replace("'", "''") + "'", Text)


def json_string(expression: ColumnElement, nullable: bool = True) -> ColumnElement:
    """The JSON string of a text expression (``null`` when it is NULL)."""
    value = sql_cast(func.to_json(expression), Text)
    return func.coalesce(value, sql_text("null")) if nullable else value


def json_object(members: Mapping[str, ColumnElement]) -> ColumnElement:
    """A JSON object from expressions that each write a JSON value, keys in sorted order and
    without spaces, as the JSON provider writes them."""
    parts: list[ColumnElement] = []
    for index, key in enumerate(sorted(members)):
        opening = "{" if index == 0 else ","
        parts += [sql_text(f"{opening}{json.dumps(key)}:"), members[key]]
    return func.concat(*parts, sql_text("}")) if parts else sql_text("{}")


def _json_value(field: fields.Field, column) -> ColumnElement | None:
    """The SQL writing ``field``'s JSON value from ``column``, or None when this module cannot
    write that field exactly."""
    kind, column_type = type(field), column.type
    if kind is fields.Integer and not field.as_string and isinstance(column_type, Integer):
        value = sql_cast(column, Text)
    elif kind is fields.String and isinstance(column_type, String):
        return json_string(column, column.nullable)
    elif kind is fields.Boolean and isinstance(column_type, Boolean):
        value = sql_cast(func.to_json(column), Text)
    elif kind is UtcDateTime and isinstance(column_type, DateTime) and column_type.timezone:
        in_utc = func.timezone(literal_column("'UTC'"), column)
        # (``||``, not ``concat``: a NULL time must stay NULL, to be written as ``null``.)
        value = sql_text('"') + func.to_char(in_utc, literal_column(ISO_SECONDS_UTC), type_=Text)
        value = value + sql_text('+00:00"')
    else:
        return None
    return func.coalesce(value, sql_text("null")) if column.nullable else value


class SqlDump:
    """A schema's dump of a model's rows, as one SQL column of JSON texts (``column``).
    ``params()`` gives the bind values the schema's ``Method`` twins need for this request."""

    def __init__(self, schema: Schema, column: Label) -> None:
        self.schema = schema
        self.column = column

    def params(self) -> dict[str, Any]:
        sql_params = getattr(self.schema, "sql_params", None)
        return sql_params() if sql_params else {}


def compile_json_sql(schema: Schema, model: type) -> SqlDump | None:
    """``schema``'s dump of a ``model`` row written by PostgreSQL, or None when the schema has a
    field (or a dump hook) this module cannot write exactly."""
    if any(schema._hooks.get(tag) for tag in ("pre_dump", "post_dump")):
        return None
    columns = inspect(model).columns
    column: Callable[[str], Any] = columns.__getitem__
    members: dict[str, ColumnElement] = {}
    for name, field in schema.dump_fields.items():
        key = field.data_key if field.data_key is not None else name
        if isinstance(field, fields.Method):
            twin = getattr(schema, f"{field.serialize_method_name}_sql", None)
            value = twin(column) if twin else None
        else:
            attribute = field.attribute or name
            value = _json_value(field, columns[attribute]) if attribute in columns else None
        if value is None:
            return None
        members[key] = value
    return SqlDump(schema, json_object(members).label("json"))
