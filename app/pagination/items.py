"""What a page's statement selects for its items, and how that becomes them: the dump
PostgreSQL writes (``app.schemas.sql_dump``, the ``sql_dump`` fast path), or the ORM object,
dumped by marshmallow."""

import functools

from flask import current_app
from marshmallow import Schema

from app.schemas.common import Dumped
from app.schemas.sql_dump import sql_dump


class PageItems:
    """The column the page selects for each item, its bind values, and the items' dump."""

    def __init__(self, schema: Schema, entity, in_sql: bool) -> None:
        self.schema = schema
        self.sql = sql_dump(schema, entity) if in_sql else None
        self.column = self.sql.expression if self.sql else entity

    @classmethod
    def of(cls, schema_class: type[Schema], entity) -> "PageItems":
        """Built once per schema and model (and setting of the ``sql_dump`` fast path)."""
        return cls._built(schema_class, entity, "sql_dump" in current_app.config["FAST_PATHS"])

    @classmethod
    @functools.cache
    def _built(cls, schema_class: type[Schema], entity, in_sql: bool) -> "PageItems":
        return cls(schema_class(), entity, in_sql)

    def params(self) -> dict:
        return self.sql.params() if self.sql else {}

    def dump(self, values) -> Dumped:
        return Dumped(values) if self.sql else Dumped(self.schema.dump(list(values), many=True))
