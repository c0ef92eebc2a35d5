"""Bare extension instances, bound to an application by the factory."""

from flask_limiter import Limiter
from flask_mailman import Mail
from flask_marshmallow import Marshmallow
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from app.addresses import request_client_key
from app.guard import GatehouseGuard


class Base(DeclarativeBase):
    """Declarative base for every model."""


db = SQLAlchemy(model_class=Base)
ma = Marshmallow()
mail = Mail()
limiter = Limiter(key_func=request_client_key)
guard = GatehouseGuard()
