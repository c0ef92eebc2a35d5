"""One attempt to deliver a webhook, within the guard of ``app.events.destination``: the host
resolved once and every address checked, the connection made to the checked address (``Host``
and TLS's server name still the URL's host), no redirect followed, the whole attempt within its
seconds, at most 64 KiB of the answer read and 1 KiB kept."""

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from app.events.destination import Address, Refused, Target, target_of, vetted_addresses

READ_AT_MOST = 64 * 1024
KEPT_AT_MOST = 1024
USER_AGENT = "Gatehouse-Webhooks/1.0 (Standard Webhooks)"


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: the answer's status (None when there was none), the start of its
    body (at most 1 KiB), why it failed (None when it did not), and how long it took."""

    status_code: int | None
    body: bytes
    error: str | None
    duration_ms: int


class PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to the address that was checked, whatever the host's name resolves
    to by now (``Host`` still names the URL's host)."""

    def __init__(self, target: Target, address: Address, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self.address), self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class PinnedHTTPSConnection(PinnedHTTPConnection):
    """The same over TLS: the certificate is checked for the URL's host (also the server
    name sent), the connection made to the checked address."""

    default_port = http.client.HTTPS_PORT

    def __init__(self, target: Target, address: Address, timeout: float) -> None:
        super().__init__(target, address, timeout)
        self.tls = ssl.create_default_context()

    def connect(self) -> None:
        super().connect()
        self.sock = self.tls.wrap_socket(self.sock, server_hostname=self.host)


class Deadline:
    """The time left of an attempt; past it, the connection is shut (a server trickling its
    answer a byte at a time never holds an attempt longer)."""

    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds
        self.connection: http.client.HTTPConnection | None = None
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def left(self) -> float:
        left = self.ends - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left

    def _expire(self) -> None:
        self.expired = True
        sock = self.connection.sock if self.connection is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allowed_origins=(),
    seconds: float = 10.0,
    resolver=socket.getaddrinfo,
) -> Outcome:
    """POST ``body`` to ``url`` within the guard (see the module); never raises."""
    started = time.monotonic()
    deadline = Deadline(seconds)

    def outcome(status=None, read=b"", error=None) -> Outcome:
        elapsed = int((time.monotonic() - started) * 1000)
        return Outcome(status, read[:KEPT_AT_MOST], error, elapsed)

    connection = None
    try:
        target = target_of(url)
        addresses = vetted_addresses(target, allowed_origins, resolver, deadline.left())
        kind = PinnedHTTPSConnection if target.scheme == "https" else PinnedHTTPConnection
        connection = kind(target, addresses[0], deadline.left())
        deadline.connection = connection
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={
                **headers,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "Connection": "close",
            },
        )
        connection.sock.settimeout(deadline.left())
        response = connection.getresponse()
        try:
            read = response.read(READ_AT_MOST)
        finally:
            response.close()
        if deadline.expired:
            raise TimeoutError
        error = None if 200 <= response.status < 300 else f"HTTP {response.status}"
        return outcome(response.status, read, error)
    except Refused as refused:
        return outcome(error=f"Refused: {refused}")
    except TimeoutError:
        return outcome(error=f"No complete answer within {seconds:g} s.")
    except (OSError, http.client.HTTPException, ssl.SSLError) as failure:
        if deadline.expired:
            return outcome(error=f"No complete answer within {seconds:g} s.")
        return outcome(error=f"{type(failure).__name__}: {failure}"[:KEPT_AT_MOST])
    finally:
        deadline.cancel()
        if connection is not None:
            connection.close()
