"""Signing keys kept in the database: development and tests only (production's come from
``SIGNING_KEYS``). The private half is sealed (``app.sealing``); ``app.tokens.keys`` reads them."""

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.columns import timestamp_column


class StoredSigningKey(db.Model):
    """One key: its id in tokens' headers, its algorithm, its sealed private key in PEM, and when
    it starts signing (until then it is only published: staged)."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    private_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = timestamp_column()
    signs_from: Mapped[datetime] = timestamp_column()
