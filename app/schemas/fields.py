"""Fields and rules shared by every schema that takes account data."""

from marshmallow import ValidationError, fields, validate, validates_schema

from app.identity import canonical, compatible

USERNAME_PATTERN = r"[A-Za-z0-9_.-]{3,64}"
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256


class Username(fields.String):
    """A username, read in NFKC (``ｋａｔｅ`` is ``kate``, the Kelvin sign a K) with its case kept
    for display; uniqueness and look-ups ignore case (``app.identity``)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return compatible(super()._deserialize(value, attr, data, **kwargs))


class EmailAddress(fields.Email):
    """An e-mail address, read and stored in its canonical form (NFKC, case folded), so that
    an address is unique however it is spelled."""

    def _deserialize(self, value, attr, data, **kwargs):
        return canonical(super()._deserialize(value, attr, data, **kwargs))


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


def password_matches_username(password: str, username: str) -> bool:
    """The policy's other rule: a password may not be the username (in any case)."""
    return password.casefold() == username.casefold()


PASSWORD_IS_USERNAME = "The password may not be the username."  # noqa: S105 (a message)


class PasswordNotUsernameMixin:
    """For schemas that take both a ``username`` and a ``password``."""

    @validates_schema
    def password_is_not_username(self, data, **kwargs) -> None:
        password, username = data.get("password"), data.get("username")
        if password and username and password_matches_username(password, username):
            raise ValidationError(PASSWORD_IS_USERNAME, field_name="password")


class StrictBoolean(fields.Boolean):
    """A JSON body boolean: ``true`` or ``false`` only (not 0, 1, "yes"...), as documented.
    Query-string booleans stay ``fields.Boolean``: they arrive as text."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value
