"""The flask-smorest Blueprint every resource uses, with a JSON parser that treats nesting too
deep for Python's parser as malformed JSON (400) rather than an internal error."""

import json

import flask_smorest
from webargs.flaskparser import FlaskParser


class ArgumentsParser(FlaskParser):
    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            error = json.JSONDecodeError("JSON nested too deeply", "", 0)
            return self._handle_invalid_json_error(error, req)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = ArgumentsParser()
