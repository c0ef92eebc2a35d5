"""HTTP resources: one flask-smorest blueprint module per resource."""

from flask import Flask

from app.api import (
    account,
    audit,
    auth,
    bucketlists,
    discovery,
    docs,
    mfa,
    personal_tokens,
    root,
    sessions,
    users,
)
from app.extensions import api


def register_blueprints(app: Flask) -> None:
    app.register_blueprint(docs.assets)
    for module in (
        root,
        discovery,
        auth,
        mfa,
        account,
        users,
        sessions,
        personal_tokens,
        audit,
        bucketlists,
    ):
        api.register_blueprint(module.blp)
