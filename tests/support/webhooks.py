"""A webhook receiver on this machine: a real HTTP server (a thread of the test process) that
verifies each delivery's signature with the Standard Webhooks reference library, as a receiver
should, and answers as a test tells it to (a status per delivery, or no answer at all)."""

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Delivery:
    """One request the receiver got: its headers, body, the secrets that verified it, and when
    it came (``time.monotonic``)."""

    headers: dict[str, str]
    body: bytes
    verified_by: list[str] = field(default_factory=list)
    at: float = field(default_factory=time.monotonic)

    @property
    def event(self) -> dict:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    """``answers``: the statuses of the next deliveries, in order (then ``status``); ``hang``:
    never answer (until the receiver stops)."""

    def __init__(self, host: str = "127.0.0.1", status: int = 204) -> None:
        self.status = status
        self.answers: list[int] = []
        self.hang = False
        self.secrets: list[str] = []
        self.deliveries: list[Delivery] = []
        self.redirect_to: str | None = None
        self.answer_body = b""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver._got(self.headers, body)
                if receiver.hang:
                    receiver._stop.wait(60)
                    return
                status = receiver._next_status()
                self.send_response(status)
                if receiver.redirect_to:
                    self.send_header("Location", receiver.redirect_to)
                self.send_header("Content-Length", str(len(receiver.answer_body)))
                self.end_headers()
                # The sender may stop reading (past 64 KiB it does).
                with contextlib.suppress(OSError):
                    self.wfile.write(receiver.answer_body)

            def log_message(self, *args) -> None:
                return None

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.origin = f"http://{host}:{self.port}"
        self.url = f"{self.origin}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _got(self, headers, body: bytes) -> None:
        lowered = {name.lower(): value for name, value in headers.items()}
        delivery = Delivery(lowered, body)
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, lowered)
            except WebhookVerificationError:
                continue
            delivery.verified_by.append(secret)
        with self._lock:
            self.deliveries.append(delivery)

    def _next_status(self) -> int:
        with self._lock:
            return self.answers.pop(0) if self.answers else self.status

    def received(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)

    def wait_for(self, count: int, seconds: float = 20) -> list[Delivery]:
        """Until ``count`` deliveries have come (or fail), then them."""
        deadline = time.monotonic() + seconds
        while len(self.received()) < count:
            assert time.monotonic() < deadline, (
                f"{len(self.received())} of {count} deliveries came within {seconds} s"
            )
            time.sleep(0.05)
        return self.received()

    def stop(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def receiving(host: str = "127.0.0.1", status: int = 204) -> Iterator[Receiver]:
    receiver = Receiver(host, status)
    try:
        yield receiver
    finally:
        receiver.stop()
