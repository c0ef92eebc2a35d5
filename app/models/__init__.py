"""Database models."""

from app.models.revoked_token import RevokedToken
from app.models.user import ROLES, User

__all__ = ["ROLES", "RevokedToken", "User"]
