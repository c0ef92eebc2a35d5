"""The JSON body parser of every operation, stricter than webargs' own: an operation that takes
a body refuses a request without one (422), instead of reading it as an empty object (a PATCH
with no body is a mistake, not a no-op), and nesting too deep for Python's parser, or an integer
longer than it reads (4,300 digits), is malformed JSON (400), not an internal error."""

import json

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
        except ValueError as too_long:
            # An integer past Python's 4,300-digit limit: unreadable, like malformed JSON.
            error = json.JSONDecodeError(str(too_long), "", 0)
            return self._handle_invalid_json_error(error, req)
        if data is core.missing and not req.get_data(cache=True):
            abort(422, messages={"json": {"_schema": [BODY_REQUIRED]}})
        return data
