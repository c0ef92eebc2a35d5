"""Second factors as a rule of access: which accounts must have one (``MFA_REQUIRED_ROLES``),
what an account can prove besides its password, and what it may not do without one. The
factors themselves (TOTP, recovery codes, passkeys) are ``app.accounts``'s."""

from flask import current_app
from sqlalchemy import exists, select

from app.errors import ApiError
from app.extensions import db
from app.models import Passkey, User


def required_for(user: User) -> bool:
    """Whether the account's roles require MFA (``MFA_REQUIRED_ROLES``)."""
    return bool(set(current_app.config["MFA_REQUIRED_ROLES"]) & set(user.rolenames))


def has_passkey(user: User) -> bool:
    return db.session.scalar(select(exists().where(Passkey.user_id == user.user_id)))


def second_factors(user: User) -> list[str]:
    """What the account can prove besides its password: ``totp``, ``passkey``."""
    return [
        name for name, held in (("totp", user.mfa_enabled), ("passkey", has_passkey(user))) if held
    ]


def must_enrol(user: User) -> bool:
    """Whether the account's roles require a second factor (TOTP or a passkey) it lacks."""
    return required_for(user) and not user.mfa_enabled and not has_passkey(user)


def refuse_if_required(user: User) -> None:
    """409 for turning MFA off on an account whose roles require it (its sessions would go on
    without a second factor)."""
    if required_for(user):
        raise ApiError(
            409,
            "conflict",
            "This account's roles require two-step sign-in (MFA_REQUIRED_ROLES): it stays on. "
            "An administrator can reset it (DELETE /users/<id>/mfa), which ends every session.",
        )


def refuse_session_without_mfa(user: User) -> None:
    """403 ``mfa_enrollment_required`` for refreshing a session of an account whose roles now
    require MFA and that has none (the setting changed, or an admin reset it): it signs in
    again, and enrols."""
    if must_enrol(user):
        raise ApiError(
            403,
            "mfa_enrollment_required",
            "This account must turn on two-step sign-in: sign in again (POST /login) to enrol.",
        )


def refuse_without_required_factor(user: User) -> None:
    """403 ``mfa_enrollment_required`` for an account whose roles require a second factor
    (``MFA_REQUIRED_ROLES``) and that has none: its personal tokens are neither made nor
    accepted until it enrols again (an admin's MFA reset leaves its tokens unusable, not
    silently in force). A second factor enrolled means every fresh check of its sessions,
    which creating a token needs, passed that factor too."""
    if must_enrol(user):
        raise ApiError(
            403,
            "mfa_enrollment_required",
            "This account's roles require two-step sign-in and it has none: its personal tokens "
            "work again once it enrols (sign in: POST /login).",
        )
