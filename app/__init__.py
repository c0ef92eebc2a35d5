"""Gatehouse: a role-based REST API on Flask."""

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask.sessions import NullSession, SessionInterface
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from app.access import bearer
from app.access.permissions import check_catalog_at_start
from app.api import api, register_blueprints
from app.api.docs import BEARER_SCHEME, BEARER_SECURITY_SCHEME, strings_without_nul
from app.audit import install_audit_trail
from app.cli import register_commands
from app.config import load_config
from app.database import install_connection_checks
from app.embedded_db import embedded_database_url
from app.errors import register_error_handlers
from app.extensions import db, guard, limiter, ma
from app.mail import init_mail
from app.models import User
from app.observability import register_observability
from app.request_hooks import register_request_hooks
from app.tokens import access, keys
from app.tokens.transport import CSRF_HEADER, bearer_token


def create_app(config_name: str | None = None, overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the application for ``config_name`` (default: APP_CONFIG, else production)."""
    app = Flask(__name__, static_folder=None)
    app.session_interface = NoSessions()
    config = load_config(config_name)
    if config.EMBEDDED_DATABASE_DIR:
        config.SQLALCHEMY_DATABASE_URI = embedded_database_url(config.EMBEDDED_DATABASE_DIR)
    app.config.from_object(config)
    app.config.update(overrides or {})
    # Only ASCII digits name a row ("\d" also matches other scripts' digits), and a path with
    # "//" is not redirected (werkzeug would answer an HTML 308 built from the Host header).
    app.url_map.converters["int"] = AsciiIntegerConverter
    app.url_map.merge_slashes = False
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    register_extensions(app)
    install_audit_trail()
    register_blueprints(app)
    register_error_handlers(app)
    register_request_hooks(app)
    register_observability(app)
    register_commands(app)
    if app.config["CHECK_PERMISSIONS_AT_START"] and os.environ.get("FLASK_RUN_FROM_CLI") != "true":
        check_catalog_at_start(app)
    if app.config["PROXY_HOPS_FROM_PLATFORM"]:
        app.logger.info(
            "TRUSTED_PROXY_HOPS is not set: 1 on Heroku (DYNO is set), so limits count each "
            "client's address from X-Forwarded-For, not the router's"
        )
    return app


class AsciiIntegerConverter(IntegerConverter):
    """``<int:...>`` of ASCII digits only."""

    regex = r"[0-9]+"


class NoSessions(SessionInterface):
    """The API keeps no state between requests (tokens travel in headers, no cookies are set),
    so Flask's signed-cookie session is never opened."""

    def open_session(self, app: Flask, request) -> NullSession:
        return self.make_null_session(app)

    def save_session(self, app: Flask, session, response) -> None:
        return None


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    install_connection_checks(app)
    ma.init_app(app)
    init_mail(app)
    limiter.init_app(app)
    guard.init_app(app, User, bearer_reader=bearer.authenticate, header_reader=bearer_token)
    keys.init_app(app)
    access.init_app(app)
    if app.config["CORS_ORIGINS"]:
        CORS(
            app,
            origins=app.config["CORS_ORIGINS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID", CSRF_HEADER],
            expose_headers=["X-Request-ID", "Retry-After", "Location"],
            # Cookies (browser mode's refresh token) only to these origins.
            supports_credentials=app.config["REFRESH_COOKIE"],
            max_age=600,
        )
    api.init_app(app)
    api.spec.components.security_scheme(BEARER_SCHEME, BEARER_SECURITY_SCHEME)
    api.ma_plugin.converter.add_attribute_function(strings_without_nul)
