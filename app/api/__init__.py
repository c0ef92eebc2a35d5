"""HTTP resources: one flask-smorest blueprint module per resource."""

from flask import Flask

from app.account_page import blp as account_page
from app.api import (
    account,
    audit,
    auth,
    bucketlists,
    discovery,
    docs,
    mfa,
    passkeys,
    personal_tokens,
    providers,
    root,
    sessions,
    users,
)
from app.extensions import api


def register_blueprints(app: Flask) -> None:
    app.register_blueprint(docs.assets)
    app.register_blueprint(account_page)
    app.url_map.converters["provider"] = providers.ProviderName
    api.register_converter(providers.ProviderName, providers.provider_name_schema)
    for module in (
        root,
        discovery,
        auth,
        mfa,
        passkeys,
        providers,
        account,
        users,
        sessions,
        personal_tokens,
        audit,
        bucketlists,
    ):
        api.register_blueprint(module.blp)
