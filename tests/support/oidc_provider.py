"""A real OpenID Provider for the tests: panva's oidc-provider (npm, OpenID-certified), run by
node with tests/oidc/provider.mjs, installed into tests/oidc/node_modules when missing. A small
browser (a cookie jar, redirects followed by hand) signs in at it as a test account."""

import contextlib
import http.cookiejar
import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tests.support.processes import free_port, required_tool

OIDC_PROVIDER_VERSION = "9.13.3"
DIRECTORY = Path(__file__).resolve().parents[1] / "oidc"


def ensure_installed() -> None:
    """oidc-provider in tests/oidc/node_modules (npm installs it the first time)."""
    if (DIRECTORY / "node_modules" / "oidc-provider").exists():
        return
    subprocess.run(
        [
            required_tool("npm"),
            "install",
            "--prefix",
            str(DIRECTORY),
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            f"oidc-provider@{OIDC_PROVIDER_VERSION}",
        ],
        check=True,
        timeout=300,
    )


@contextlib.contextmanager
def running_provider(clients: list[dict], log_path: Path):
    """The provider's issuer URL while the block runs, with ``clients`` registered."""
    node = required_tool("node")
    ensure_installed()
    port = free_port()
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [node, str(DIRECTORY / "provider.mjs"), str(port), json.dumps(clients)],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={**os.environ, "NODE_ENV": "test"},
        )
        try:
            deadline = time.monotonic() + 30
            while "ready" not in (process.stdout.readline() or ""):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the provider did not start: {log_path.read_text()}")
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=10)
            process.stdout.close()


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class ProviderBrowser:
    """A person's browser at the provider: it follows the provider's own redirects and stops at
    the first one that leaves it (the relying party's callback)."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirects()
        )

    def _location(self, url: str) -> str:
        try:
            with self.opener.open(url, timeout=10) as response:
                raise AssertionError(f"{url}: {response.status}, no redirect")
        except urllib.error.HTTPError as error:
            if error.code not in (302, 303):
                raise AssertionError(f"{url}: {error.code} {error.read()[:300]!r}") from None
            return urllib.parse.urljoin(url, error.headers["Location"])

    def sign_in(self, authorization_url: str, account: str) -> dict[str, str]:
        """Sign in as ``account`` from the authorization URL; the callback's query parameters."""
        url = authorization_url
        for _ in range(10):
            if not url.startswith(self.issuer):
                return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
            if "/interaction/" in url:
                url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"account": account})
            url = self._location(url)
        raise AssertionError("too many redirects at the provider")
