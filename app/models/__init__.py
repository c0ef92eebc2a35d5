"""Database models.

Every module of this package is imported here, so the metadata (migrations, the tests' tables)
knows every table: a new model needs no line in this file, only its own module.
"""

import importlib
import pkgutil

from app.models.audit_event import AuditEvent
from app.models.bucketlist import Bucketlist, BucketlistItem
from app.models.identity import Identity
from app.models.login_failure import LoginFailure
from app.models.organization import Invitation, Membership, Organization
from app.models.passkey import Passkey
from app.models.personal_token import PersonalToken
from app.models.recovery_code import RecoveryCode
from app.models.role import (
    BUILT_IN_ROLES,
    AuthorizationVersion,
    Role,
    RolePermission,
    StoredPermission,
)
from app.models.row_count import RowCount
from app.models.session import RefreshToken, UserSession
from app.models.signing_key import StoredSigningKey
from app.models.ticket import Ticket
from app.models.user import STAFF_ROLES, User

__all__ = [
    "BUILT_IN_ROLES",
    "STAFF_ROLES",
    "AuditEvent",
    "AuthorizationVersion",
    "Bucketlist",
    "BucketlistItem",
    "Identity",
    "Invitation",
    "LoginFailure",
    "Membership",
    "Organization",
    "Passkey",
    "PersonalToken",
    "RecoveryCode",
    "RefreshToken",
    "Role",
    "RolePermission",
    "RowCount",
    "StoredPermission",
    "StoredSigningKey",
    "Ticket",
    "User",
    "UserSession",
]

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
