"""The e-mails a testing app sent (flask-mailman's locmem backend keeps them in an outbox)."""


def outbox(app) -> list:
    return getattr(app.extensions["mailman"], "outbox", [])
