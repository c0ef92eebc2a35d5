"""The access tokens this process has verified, so that the next request with the same token
need not verify it again: a bounded LRU cache of their claims.

What it skips is only what PyJWT checked once and what cannot change while the token stays the
same, the signature, algorithm, issuer, audience and claims present, and it never vouches for
a token past its ``exp``. Whether the token's session is live, its generation current and its
user allowed in is not the token's to say: ``app.access.bearer`` asks PostgreSQL on every
request, cache or not, so a revoked token is refused on the very next request.

- Keyed by the SHA-256 of the whole token: a token that differs in any character, a payload
  changed under a cached token's signature included, is another entry, and is verified.
- An entry is forgotten at its token's ``exp``: from then on the token goes to PyJWT again,
  which refuses it.
- The whole cache is dropped when the verifier changes: the keys published (a key removed, or
  retired), the issuer or the audience.
- At most ``size`` entries: past that, the least recently used goes.
"""

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from types import MappingProxyType

from app.tokens import claims


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class VerifiedTokens:
    """Verified claims by token digest, for one verifier (``verifier``: what the claims were
    checked against), at most ``size`` of them. Shared by the threads of a process."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[bytes, Mapping] = OrderedDict()
        # (equivalent mutant: "" for None; the entries start empty, so whether the first get or
        # put clears them changes nothing.)
        self._verifier: Hashable = None
        self._lock = threading.Lock()

    def get(self, key: bytes, verifier: Hashable) -> Mapping | None:
        """The claims kept for ``key`` if they were verified by ``verifier`` and have not
        expired; else None (an expired entry is dropped)."""
        with self._lock:
            if verifier != self._verifier:
                self._entries.clear()
                # (equivalent mutant: None for verifier; the entries are empty until the next
                # put, which sets the verifier itself, so every get in between misses anyway.)
                self._verifier = verifier
                return None
            found = self._entries.get(key)
            if found is None:
                return None
            # (equivalent mutant: ">" for ">="; they differ only in the microsecond the clock
            # reads exp exactly.)
            if time.time() >= found[claims.EXPIRES]:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return found

    def put(self, key: bytes, verified: dict, verifier: Hashable) -> Mapping:
        """Keep ``verified`` (claims PyJWT has just verified with ``verifier``), read-only."""
        kept = MappingProxyType(verified)
        with self._lock:
            if verifier != self._verifier:
                self._entries.clear()
                self._verifier = verifier
            self._entries[key] = kept
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                # (equivalent mutant: last=None; popitem reads last as a truth value.)
                self._entries.popitem(last=False)
        return kept

    def __len__(self) -> int:
        return len(self._entries)
