"""How account identities compare: one canonical form for usernames and e-mail addresses, and
the look-alike test that keeps new names from passing for a staff account's.

Identities are normalized once, the way Django and PRECIS (RFC 8264/8265) do: NFKC folds
compatibility characters into their plain letters (the Kelvin sign into K, full-width digits
into ASCII digits), then case folding makes comparison ignore case. What is stored, what must be
unique and what a look-up compares all go through :func:`canonical`, so two spellings that
compare equal can never name two accounts."""

import re
import unicodedata

from marshmallow import ValidationError, validate

SEPARATORS = re.compile(r"[._-]")
# What an answer says of an identity another account has.
USERNAME_TAKEN = "That username is taken."
USERNAME_LIKE_STAFF = "That username looks too much like a staff account's; choose another."
EMAIL_TAKEN = "That e-mail address is already registered."
EMAIL_MAX_LENGTH = 254
_EMAIL_SHAPE = validate.Email()
# Letters and digits that pass for each other in a name on screen (after case folding).
LOOKALIKE_LETTERS = str.maketrans({"0": "o", "1": "l", "i": "l", "3": "e", "5": "s"})
LOOKALIKE_PAIRS = (("rn", "m"), ("vv", "w"))


def compatible(text: str) -> str:
    """NFKC: compatibility characters as their plain equivalents, case kept (for display)."""
    return unicodedata.normalize("NFKC", text)


def canonical(text: str) -> str:
    """The form identities are stored, kept unique and looked up in: NFKC, then case folded
    (and NFKC again, since case folding can leave a string that NFKC would change)."""
    return compatible(compatible(text).casefold())


def skeleton(username: str) -> str:
    """What a name looks like, roughly: canonical, without separators, with look-alike letters
    and digits merged (``Adm1n.``, ``admin_`` and ``ADMlN`` share the skeleton of ``admin``)."""
    text = SEPARATORS.sub("", canonical(username))
    for pair, letter in LOOKALIKE_PAIRS:
        text = text.replace(pair, letter)
    return text.translate(LOOKALIKE_LETTERS)


def email_or_none(text: object) -> str | None:
    """``text`` in canonical form when it is an e-mail address by the rule every address the API
    takes follows (marshmallow's e-mail rule, at most 254 characters, no NUL); else None. For
    addresses that arrive from elsewhere (a provider's claims)."""
    if not isinstance(text, str) or "\x00" in text:
        return None
    address = canonical(text)
    try:
        _EMAIL_SHAPE(address)
    except ValidationError:
        return None
    return address if len(address) <= EMAIL_MAX_LENGTH else None
