"""HTTP resources: the flask-smorest ``Api``, and one blueprint module per resource.

Every module of this package that defines ``blp`` (an ``app.api.blueprint.Blueprint``) is a
resource, found and registered here: adding a resource adds its module, nothing else. The root
resource (``GET /``) links each blueprint's ``links``.
"""

import importlib
import pkgutil
from types import ModuleType

import flask_smorest
from flask import Flask

from app.account_page import blp as account_page
from app.api import docs, providers
from app.api.blueprint import Blueprint
from app.schemas.common import ErrorSchema


class Api(flask_smorest.Api):
    """flask-smorest's Api, documenting our error envelope instead of its own.

    Its HTTPException handler is replaced by the one in ``app.errors`` so that every error,
    whatever raised it, has the same shape.
    """

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        """Leave error handling to ``app.errors.register_error_handlers``."""


api = Api()


def resource_modules() -> list[ModuleType]:
    """The modules of this package that define a resource's blueprint, the root first."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if isinstance(getattr(module, "blp", None), Blueprint):
            found.append(module)
    return sorted(found, key=lambda module: (module.blp.name != "root", module.blp.name))


def register_blueprints(app: Flask) -> None:
    app.register_blueprint(docs.assets)
    app.register_blueprint(account_page)
    app.url_map.converters["provider"] = providers.ProviderName
    api.register_converter(providers.ProviderName, providers.provider_name_schema)
    for module in resource_modules():
        api.register_blueprint(module.blp)
