"""The flask-smorest Blueprint every resource uses, with a stricter JSON body parser:

- an operation that takes a body refuses a request without one (422), instead of reading it as
  an empty object (a PATCH with no body is a mistake, not a no-op);
- nesting too deep for Python's parser is malformed JSON (400), not an internal error.
"""

import json

import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser, abort

BODY_REQUIRED = "A JSON body is required."


class ArgumentsParser(FlaskParser):
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
