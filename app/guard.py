"""The flask-praetorian guard, with Gatehouse's reading of bearer tokens and its hashing policy.

praetorian's decorators (``auth_required``, ``roles_required``, ``roles_accepted``) ask the guard
for the request's token and its claims. Here the token comes from the ``Authorization`` header
exactly as RFC 6750 writes it, and its claims from ``app.access.bearer``, which verifies it and
holds it against the database on every request (its session, its user, its scopes). The guard
is given both readers by the application factory: this module imports nothing of the app, since
the extensions module builds the guard before anything else exists. E-mailed tokens (reset,
confirmation) stay praetorian's own, read by praetorian.
"""

import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from flask import request
from flask_praetorian import Praetorian
from flask_praetorian.constants import AccessType
from flask_praetorian.exceptions import BlacklistedError, InvalidTokenHeader, MissingToken
from flask_praetorian.utilities import current_guard, current_user_id

# Hashes that no password matches, one per argon2 setting, made when the app is built (not on
# the first login for an unknown user, which would then cost two hashes: a timing tell); made
# once per process (gunicorn builds the app in the master, before the workers fork).
_DUMMY_HASHES: dict[str, str] = {}


def dummy_hash(guard: "GatehouseGuard") -> str:
    setting = repr(sorted(guard.pwd_ctx.to_dict().items(), key=str))
    if setting not in _DUMMY_HASHES:
        _DUMMY_HASHES[setting] = guard.hash_password(secrets.token_urlsafe(32))
    return _DUMMY_HASHES[setting]


class OneHashingThread:
    """passlib's context, its hashes and verifications run on one thread of this process.

    argon2id takes its 7 MiB buffer from the memory arena of the thread that hashes, and glibc
    keeps it there once freed (its mmap threshold has risen past it). Hashed on each request's
    thread, a worker of 8 threads ends up holding 8 buffers after a burst of logins; on one
    thread it holds one, reused warm (no page faults). A verification already takes a core for
    its whole length, so with a worker per core this hashes no fewer passwords a second
    (``bench/README.md`` measures both)."""

    _lock = threading.Lock()
    _pid: int | None = None
    _executor: ThreadPoolExecutor | None = None

    def __init__(self, context) -> None:
        self.context = context

    @classmethod
    def _run(cls, call, *args):
        with cls._lock:
            # (One per process: a thread does not survive a fork, and gunicorn's master builds
            # the app, and hashes, before it forks the workers.)
            if cls._pid != os.getpid():
                cls._executor = ThreadPoolExecutor(1, thread_name_prefix="password-hashing")
                cls._pid = os.getpid()
            executor = cls._executor
        try:
            future = executor.submit(call, *args)
        except RuntimeError:
            # The interpreter is exiting, and its executors take no more work: a worker told to
            # quit at once (SIGINT, SIGQUIT) exits with requests in flight. They hash here.
            return call(*args)
        return future.result()

    def hash(self, secret: str) -> str:
        return self._run(self.context.hash, secret)

    def verify(self, secret: str, hashed: str) -> bool:
        return self._run(self.context.verify, secret, hashed)

    def verify_and_update(self, secret: str, hashed: str) -> tuple[bool, str | None]:
        return self._run(self.context.verify_and_update, secret, hashed)

    def __getattr__(self, name: str):
        return getattr(self.context, name)


class TokenRevokedError(BlacklistedError):
    """The token was valid once, but it was revoked or its user changed since it was issued."""

    status_code = 401


class GatehouseGuard(Praetorian):
    """Praetorian with argon2id parameters and Gatehouse's bearer tokens."""

    def init_app(
        self,
        app=None,
        user_class=None,
        *,
        bearer_reader: Callable[[str], dict],
        header_reader: Callable[[str | None], str | None],
    ):
        """Initialize praetorian, pin argon2id's cost parameters from the config, make the
        hash a login for an unknown user is checked against, and take the readers of bearer
        tokens (``bearer_reader``: token -> verified claims) and of the header
        (``header_reader``: header -> token, or None when malformed)."""
        result = super().init_app(app, user_class)
        self.pwd_ctx.update(
            argon2__type="ID",
            argon2__memory_cost=app.config["ARGON2_MEMORY_COST_KIB"],
            argon2__rounds=app.config["ARGON2_TIME_COST"],
            argon2__parallelism=app.config["ARGON2_PARALLELISM"],
        )
        if "hashing_thread" in app.config["FAST_PATHS"]:
            self.pwd_ctx = OneHashingThread(self.pwd_ctx)
        self._dummy_hash = dummy_hash(self)
        self._read_bearer = bearer_reader
        self._read_header = header_reader
        return result

    def spend_verify_time(self, password: str) -> None:
        """Verify ``password`` against a throwaway hash, so that a login for an unknown user
        costs what a login with a wrong password costs and timing reveals no usernames."""
        self.pwd_ctx.verify(password, self._dummy_hash)

    def read_token_from_header(self) -> str:
        header = request.headers.get("Authorization")
        if header is None:
            raise MissingToken("No Authorization header")
        token = self._read_header(header)
        if token is None:
            raise InvalidTokenHeader("The Authorization header is not 'Bearer <token>'")
        return token

    def extract_jwt_token(self, token, access_type=AccessType.access):
        """A bearer token's claims (praetorian's decorators ask with ``access``), or an e-mailed
        token's, read by praetorian as it always does."""
        if access_type == AccessType.access:
            return self._read_bearer(token)
        return super().extract_jwt_token(token, access_type=access_type)


def current_user():
    """The signed-in ``User``, like praetorian's ``current_user()`` (the guard has loaded it
    already, so this costs no query), except that a user deleted by a concurrent request is a
    revoked token (401), not an internal error."""
    user = current_guard().user_class.identify(current_user_id())
    TokenRevokedError.require_condition(user is not None, "The token was revoked")
    return user
