"""An authenticator app for the tests: TOTP codes (RFC 6238, 30 s steps) computed from the
secret the API returns."""

import time

import pyotp

STEP = 30


def current_step(margin: float = 3.0) -> int:
    """The current step, once at least ``margin`` seconds of it remain (waiting out the end of
    a step), so that a request sent right after is judged in the same step."""
    left = STEP - time.time() % STEP
    if left < margin:
        time.sleep(left + 0.05)
    return int(time.time() // STEP)


class Authenticator:
    """A person's authenticator app: the code of the current step, or of the next one when the
    current one was used (the server accepts one step of drift either way, and each step once).
    Both stay accepted if a step ends between computing a code and the server checking it."""

    def __init__(self, secret: str) -> None:
        self.totp = pyotp.TOTP(secret)
        self.last_step: int | None = None

    def code(self) -> str:
        now = current_step(margin=1.0)
        step = now if self.last_step is None else max(self.last_step + 1, now)
        if step > now + 1:
            # Both accepted steps are used: wait for the next step, as a person would.
            time.sleep(STEP - time.time() % STEP + 0.05)
            return self.code()
        self.last_step = step
        return self.at_step(step)

    def at_step(self, step: int) -> str:
        """The code of ``step`` (for tests of the drift rule)."""
        return self.totp.at(step * STEP)


def enrol(client, headers) -> Authenticator:
    """Start turning on the authenticator app (``POST /users/me/mfa/totp``): the app set up
    from the secret it answers, its first code not yet confirmed."""
    started = client.post("/users/me/mfa/totp", headers=headers)
    assert started.status_code == 200, started.get_json()
    return Authenticator(started.get_json()["secret"])
