"""Headless Chromium driven through the DevTools protocol over a pipe (``--remote-debugging-pipe``:
JSON messages ending in NUL on file descriptors 3 and 4), with no driver to install. A page's
console, its log (Content-Security-Policy violations included) and its uncaught exceptions are
collected, and a virtual WebAuthn authenticator can stand in for a person's passkey."""

import contextlib
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

from tests.support.processes import required_tool


def chromium() -> str:
    """Debian's chromium (``chromium-browser`` elsewhere); a test that needs it fails without
    it, naming the command that installs it."""
    return shutil.which("chromium-browser") or required_tool("chromium")


class BrowserError(RuntimeError):
    pass


class Browser:
    """One browser with one page (a tab), attached for commands."""

    def __init__(self, profile: Path) -> None:
        to_browser, self._writer = os.pipe()
        self._reader, from_browser = os.pipe()

        def at_fds_3_and_4() -> None:
            os.dup2(to_browser, 3)
            os.dup2(from_browser, 4)

        self.process = subprocess.Popen(
            [
                chromium(),
                "--headless",
                "--no-sandbox",  # CI runs as root, where chromium's sandbox cannot start
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=at_fds_3_and_4,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._ids = iter(range(1, 1_000_000))
        self._answers: dict[int, queue.Queue] = {}
        self._lock = threading.Lock()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        target = self.command("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.command("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        # A page must have the focus for WebAuthn; a headless one is given it.
        self.send("Emulation.setFocusEmulationEnabled", enabled=True)

    def _read(self) -> None:
        pending = b""
        with os.fdopen(self._reader, "rb", buffering=0) as stream:
            while chunk := stream.read(65536):
                pending += chunk
                *messages, pending = pending.split(b"\0")
                for raw in messages:
                    self._dispatch(json.loads(raw))

    def _dispatch(self, message: dict) -> None:
        if "id" in message:
            with self._lock:
                waiting = self._answers.get(message["id"])
            if waiting is not None:
                waiting.put(message)
            return
        method, params = message.get("method"), message.get("params", {})
        if method == "Log.entryAdded":
            entry = params["entry"]
            self.log.append(f"log {entry.get('source')} {entry.get('level')}: {entry['text']}")
        elif method == "Runtime.consoleAPICalled":
            texts = [str(arg.get("value", arg.get("description", ""))) for arg in params["args"]]
            self.log.append(f"console {params['type']}: {' '.join(texts)}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            description = details.get("exception", {}).get("description", details.get("text"))
            self.log.append(f"exception: {description}")

    def command(self, method: str, session: str | None = None, **params) -> dict:
        """Send a command and wait for its result (BrowserError for the protocol's error)."""
        number = next(self._ids)
        waiting: queue.Queue = queue.Queue()
        with self._lock:
            self._answers[number] = waiting
        message = {"id": number, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._writer, json.dumps(message).encode() + b"\0")
        try:
            answer = waiting.get(timeout=30)
        except queue.Empty:
            raise BrowserError(f"{method}: no answer") from None
        finally:
            with self._lock:
                del self._answers[number]
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def send(self, method: str, **params) -> dict:
        """A command to the page."""
        return self.command(method, self.session, **params)

    def add_virtual_authenticator(self) -> str:
        """A platform authenticator that keeps discoverable credentials and verifies its user
        (as a phone or laptop with a fingerprint would), without a prompt."""
        self.send("WebAuthn.enable", enableUI=False)
        return self.send(
            "WebAuthn.addVirtualAuthenticator",
            options={
                "protocol": "ctap2",
                "ctap2Version": "ctap2_1",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            },
        )["authenticatorId"]

    def credentials(self, authenticator: str) -> list[dict]:
        return self.send("WebAuthn.getCredentials", authenticatorId=authenticator)["credentials"]

    def open(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'")

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (a promise is awaited)."""
        result = self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, condition: str, seconds: float = 15):
        """Wait until a JavaScript expression is truthy, and return its value."""
        deadline = time.monotonic() + seconds
        while True:
            value = self.evaluate(condition)
            if value:
                return value
            if time.monotonic() > deadline:
                status = self.evaluate("document.getElementById('status')?.textContent")
                raise BrowserError(f"timed out waiting for {condition}; status: {status!r}")
            time.sleep(0.1)

    def fill(self, form: str, **fields: str) -> None:
        """Type ``fields`` into the form with id ``form`` and submit it."""
        for name, value in fields.items():
            self.evaluate(
                f"document.querySelector('#{form} [name={name}]').value = {json.dumps(value)}"
            )
        self.evaluate(f"document.getElementById('{form}').requestSubmit()")

    def click(self, element: str) -> None:
        self.evaluate(f"document.getElementById('{element}').click()")

    def close(self) -> None:
        with contextlib.suppress(BrowserError):
            self.command("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._writer)
