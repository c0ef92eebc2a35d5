"""Webhook secrets and signatures, as the Standard Webhooks specification says, through its
reference library (``standardwebhooks``): a secret is ``whsec_`` and base64 of 32 random bytes,
kept sealed (``app.sealing``); a message is signed over ``<webhook-id>.<webhook-timestamp>.<body>``
with HMAC-SHA256, and the ``webhook-signature`` header lists ``v1,<base64>`` for each secret that
signs (two for a day after a rotation)."""

import base64
import secrets
from datetime import datetime

from standardwebhooks import Webhook

from app.sealing import seal, unseal

SEAL_PURPOSE = "webhook secrets"
PREFIX = "whsec_"


def new_secret() -> tuple[str, str]:
    """A new secret, to show once, and its sealed form, to keep."""
    secret = PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
    return secret, seal(secret, SEAL_PURPOSE)


def opened(sealed: str) -> str:
    return unseal(sealed, SEAL_PURPOSE)


def headers(message_id: str, body: str, at: datetime, sealed_secrets: list[str]) -> dict:
    """The Standard Webhooks headers of ``body`` sent at ``at``, signed with each secret."""
    signatures = " ".join(
        Webhook(opened(sealed)).sign(message_id, at, body) for sealed in sealed_secrets
    )
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }
