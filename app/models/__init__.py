"""Database models."""

from app.models.user import ROLES, User

__all__ = ["ROLES", "User"]
