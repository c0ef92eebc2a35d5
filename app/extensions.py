"""Bare extension instances, bound to an application by the factory."""

import flask_smorest
from flask_limiter import Limiter
from flask_mailman import Mail
from flask_marshmallow import Marshmallow
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from app.addresses import request_client_key
from app.auth.guard import GatehouseGuard
from app.schemas.common import ErrorSchema


class Base(DeclarativeBase):
    """Declarative base for every model."""


class Api(flask_smorest.Api):
    """flask-smorest's Api, documenting our error envelope instead of its own.

    Its HTTPException handler is replaced by the one in ``app.errors`` so that every error,
    whatever raised it, has the same shape.
    """

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        """Leave error handling to ``app.errors.register_error_handlers``."""


db = SQLAlchemy(model_class=Base)
ma = Marshmallow()
mail = Mail()
limiter = Limiter(key_func=request_client_key)
api = Api()
guard = GatehouseGuard()
