"""Which new passwords are refused, and why, in words a person can act on (ASVS 6.2).

One check serves registration, an admin's account creation, a password change and a reset:
a password may not contain the username or the e-mail address's local part, may not be one of
the 30,000 most common passwords (zxcvbn's list, compared ignoring case), and must score at least
3 of 4 in zxcvbn's strength estimate. With ``PASSWORD_BREACH_CHECK`` on, it must also be absent
from Have I Been Pwned's breach corpus, asked through the k-anonymity range API (only the first
5 hex digits of the SHA-1 leave the server, and the answer is padded)."""

import hashlib
import logging
import urllib.error
import urllib.request
from functools import cache

from flask import current_app
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

LOG = logging.getLogger(__name__)
MIN_SCORE = 3
# zxcvbn's own limit: it refuses to estimate longer input (a longer password is judged by its
# first 72 characters, which only errs towards refusing).
ESTIMATE_LENGTH = 72
SHORTEST_CHECKED_PART = 3
BREACH_RANGE_URL = "https://api.pwnedpasswords.com/range/"
BREACH_TIMEOUT = 2.0

CONTAINS_USERNAME = "Leave your username out of the password."
CONTAINS_EMAIL = "Leave your e-mail address out of the password."
COMMON = "This is one of the most common passwords: choose one nobody else would."
GUESSABLE = "This password is too easy to guess."
BREACHED = "This password has appeared in a data breach: choose another."


@cache
def common_passwords() -> frozenset[str]:
    return frozenset(word.casefold() for word in FREQUENCY_LISTS["passwords"])


def password_problems(password: str, username: str | None, email: str | None) -> list[str]:
    """Why ``password`` is refused for this account (empty when it is accepted)."""
    folded = password.casefold()
    local_part = email.rpartition("@")[0] if email else ""
    personal = [part for part in (username, local_part) if part]
    problems = []
    if username and username.casefold() in folded:
        problems.append(CONTAINS_USERNAME)
    local_folded = local_part.casefold()
    if (
        len(local_part) >= SHORTEST_CHECKED_PART
        and local_folded in folded
        and not (username and local_folded in username.casefold())  # said once is enough
    ):
        problems.append(CONTAINS_EMAIL)
    if folded in common_passwords():
        problems.append(COMMON)
    if problems:
        return problems
    estimate = zxcvbn(password[:ESTIMATE_LENGTH], user_inputs=personal)
    if estimate["score"] < MIN_SCORE:
        feedback = estimate["feedback"]
        problems.append(" ".join([GUESSABLE, feedback["warning"], *feedback["suggestions"]]))
    elif current_app.config["PASSWORD_BREACH_CHECK"] and breached(password):
        problems.append(BREACHED)
    return [" ".join(problem.split()) for problem in problems]


def breached(password: str) -> bool:
    """Whether Have I Been Pwned knows ``password``. Unreachable or slow, the check lets the
    password through and logs a warning: an outage of a third party must not stop sign-ups."""
    digest = hashlib.sha1(password.encode()).hexdigest().upper()  # noqa: S324 (the API's hash)
    prefix, suffix = digest[:5], digest[5:]
    request = urllib.request.Request(  # noqa: S310 (a fixed https URL)
        BREACH_RANGE_URL + prefix, headers={"Add-Padding": "true", "User-Agent": "Gatehouse"}
    )
    try:
        with urllib.request.urlopen(request, timeout=BREACH_TIMEOUT) as response:  # noqa: S310
            lines = response.read().decode("ascii").splitlines()
    except (OSError, urllib.error.URLError, UnicodeDecodeError) as error:
        LOG.warning("password breach check unavailable: %s", type(error).__name__)
        return False
    for line in lines:
        candidate, _, count = line.partition(":")
        # Padding lines have a count of 0.
        if candidate == suffix and count.strip() not in ("", "0"):
            return True
    return False
