"""The flask-smorest Blueprint every resource uses, with a stricter JSON body parser:

- an operation that takes a body refuses a request without one (422), instead of reading it as
  an empty object (a PATCH with no body is a mistake, not a no-op);
- nesting too deep for Python's parser is malformed JSON (400), not an internal error;
- a query string is handed to its schema as a plain dict (see ``load_querystring``).
"""

import json
from weakref import WeakKeyDictionary

import flask_smorest
from marshmallow import Schema
from webargs import core
from webargs.flaskparser import FlaskParser, abort
from webargs.multidictproxy import MultiDictProxy

BODY_REQUIRED = "A JSON body is required."


class ArgumentsParser(FlaskParser):
    # Per schema: the query parameters its fields read as lists (webargs' rule, see
    # ``MultiDictProxy``), found once instead of on every request.
    _multiple_keys: "WeakKeyDictionary[Schema, frozenset[str]]" = WeakKeyDictionary()

    def load_querystring(self, req, schema):
        """The query string as webargs' ``MultiDictProxy`` would show it to the schema (each
        parameter's first value, every value for the fields that take several), as a plain
        dict: the proxy raises and catches a ``KeyError`` for each absent field of each
        request, which costs more than loading the values."""
        multiple = self._multiple_keys.get(schema)
        if multiple is None:
            multiple = frozenset(MultiDictProxy(req.args, schema).multiple_keys)
            self._multiple_keys[schema] = multiple
        args = req.args
        return {key: args.getlist(key) if key in multiple else args[key] for key in args}

    def _raw_load_json(self, req):
        try:
            data = super()._raw_load_json(req)
        except RecursionError:
            error = json.JSONDecodeError("JSON nested too deeply", "", 0)
            return self._handle_invalid_json_error(error, req)
        if data is core.missing and not req.get_data(cache=True):
            abort(422, messages={"json": {"_schema": [BODY_REQUIRED]}})
        return data


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = ArgumentsParser()

    def arguments(self, schema, *args, **kwargs):
        """smorest's ``arguments``, with the schema instantiated once: given a class, webargs
        would build a new schema on every request."""
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(schema, *args, **kwargs)
