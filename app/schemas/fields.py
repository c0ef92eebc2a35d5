"""Fields and rules shared by every schema that takes account data."""

import re

from marshmallow import ValidationError, fields, validate, validates_schema

from app.access.permissions import CATALOG
from app.accounts.password_policy import password_problems
from app.identity import canonical, compatible
from app.models.role import ROLE_NAME_PATTERN

USERNAME_PATTERN = r"[A-Za-z0-9_.-]{3,64}"
ASCII_INTEGER = re.compile(r"[+-]?[0-9]+")
# Not blank, and (like every string, see app/schemas/base.py) without NUL. Written out in full
# because this pattern is also the one the OpenAPI document shows.
NOT_BLANK = validate.Regexp(r"^[^\x00]*[^\s\x00][^\x00]*$", error="May not be blank.")
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256


class Username(fields.String):
    """A username, read in NFKC (full-width ``kate`` is ``kate``, the Kelvin sign a K), case kept
    for display; uniqueness and look-ups ignore case (``app.identity``)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return compatible(super()._deserialize(value, attr, data, **kwargs))


class EmailAddress(fields.Email):
    """An e-mail address, read and stored in its canonical form (NFKC, case folded), so that
    an address is unique however it is spelled."""

    def _deserialize(self, value, attr, data, **kwargs):
        return canonical(super()._deserialize(value, attr, data, **kwargs))


class KnownPermission(validate.OneOf):
    """One of the catalog's permissions (``app.access.permissions``), as the catalog stands when
    the value is checked or the OpenAPI document written: a resource declares its own when its
    module is imported, after this schema's."""

    def __init__(self, among=None, excluding=frozenset(), outside=None) -> None:
        self.among, self.excluding, self.outside = among, excluding, outside
        super().__init__((), error="No such permission: {input} (GET /permissions).")

    def _format_error(self, value) -> str:
        """A permission of the catalog that is not one of these: ``outside`` says why."""
        if self.outside and isinstance(value, str) and value in CATALOG:
            return self.outside.format(input=value)
        return super()._format_error(value)

    @property
    def choices(self):
        return sorted(set(self.among or CATALOG) - self.excluding)

    @choices.setter
    def choices(self, value) -> None:
        """The catalog, not a list given once, holds the choices."""


def permission_field(among=None, excluding=frozenset(), outside=None, **kwargs) -> fields.String:
    """A permission's name, one of the catalog's (or of ``among``), not one of ``excluding``
    (``outside`` says why a permission of the catalog is not one of these)."""
    return fields.String(validate=KnownPermission(among, excluding, outside), **kwargs)


def role_name_field(**kwargs) -> fields.String:
    """A role's name: a lower-case letter, then 1 to 63 of a-z, 0-9, '_', '.', '-'."""
    return fields.String(
        validate=validate.Regexp(
            f"^{ROLE_NAME_PATTERN}$",
            error="A role's name: a lower-case letter, then 1 to 63 of a-z, 0-9, '_', '.', '-'.",
        ),
        metadata={"pattern": f"^{ROLE_NAME_PATTERN}$", "example": "support"},
        **kwargs,
    )


def username_field(**kwargs) -> fields.String:
    """3 to 64 of A-Z a-z 0-9 _ . - once normalized (ASCII only: no look-alike letters, no
    control bytes)."""
    return Username(
        validate=validate.Regexp(
            f"^{USERNAME_PATTERN}$",
            error="Use 3 to 64 characters: letters, digits, '_', '.' or '-'.",
        ),
        metadata={"pattern": f"^{USERNAME_PATTERN}$", "example": "ada.lovelace"},
        **kwargs,
    )


def email_field(**kwargs) -> fields.Email:
    return EmailAddress(
        validate=validate.Length(max=254), metadata={"example": "ada@example.com"}, **kwargs
    )


def password_field(**kwargs) -> fields.String:
    """A new password: 12 to 256 characters."""
    return fields.String(
        load_only=True,
        validate=validate.Length(
            min=PASSWORD_MIN_LENGTH,
            max=PASSWORD_MAX_LENGTH,
            error=f"Use {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters.",
        ),
        metadata={"minLength": PASSWORD_MIN_LENGTH, "maxLength": PASSWORD_MAX_LENGTH},
        **kwargs,
    )


class PasswordPolicyMixin:
    """For schemas that take a new account's ``username``, ``email`` and ``password``: the
    password policy of ``app.accounts.password_policy``, its reasons in ``details.password``."""

    @validates_schema
    def password_follows_the_policy(self, data, **kwargs) -> None:
        if "password" not in data:
            return
        problems = password_problems(data["password"], data.get("username"), data.get("email"))
        if problems:
            raise ValidationError(problems, field_name="password")


class StrictBoolean(fields.Boolean):
    """A JSON body boolean: ``true`` or ``false`` only (not 0, 1, "yes"...), as documented.
    Query-string booleans stay ``fields.Boolean``: they arrive as text."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class QueryInteger(fields.Integer):
    """An integer in a query string: ASCII digits (with a sign) only. Python reads other
    scripts' digits as numbers ("\u0662" is 2); a page number or an id is written in ASCII."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and not ASCII_INTEGER.fullmatch(value):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)
