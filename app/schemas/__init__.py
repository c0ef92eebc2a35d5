"""Marshmallow schemas: what goes in and out of the API, per audience and per action."""
