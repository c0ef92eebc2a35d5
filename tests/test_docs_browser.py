"""/docs in a real browser (Debian's chromium, headless) against gunicorn: Swagger UI renders every
operation under the page's Content-Security-Policy, which allows no inline script; the bearer
token is kept in the browser's storage only in development."""

import html
import re
import subprocess
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import flask_smorest
import pytest

from tests.support.browser import chromium
from tests.support.policy import API_DIRECTIVES, directives
from tests.support.processes import call

VIOLATION = "Content Security Policy"

pytestmark = pytest.mark.e2e


def open_in_browser(url: str, tmp_path: Path) -> tuple[str, str]:
    """The page's DOM once its scripts have run, and the browser's console log."""
    result = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",  # CI runs as root, where chromium's sandbox cannot start
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=15000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout, result.stderr


@pytest.fixture(scope="module")
def server(serve):
    return serve(WEB_CONCURRENCY="1")


@pytest.fixture
def inline_script_page(server):
    """flask-smorest's own Swagger UI page (its settings in an inline script) served under the
    policy our /docs is sent with: the control that shows the browser enforces it and the test
    sees a violation."""
    template = Path(flask_smorest.__file__).parent / "spec" / "templates" / "swagger_ui.html"
    page = template.read_text().encode()
    with urllib.request.urlopen(server.base_url + "/docs", timeout=10) as docs:
        policy = docs.headers["Content-Security-Policy"]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Security-Policy", policy)
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_swagger_ui_renders_every_operation_under_the_policy(server, tmp_path) -> None:
    status, headers, spec = call(server.base_url, "GET", "/openapi.json")

    dom, console = open_in_browser(server.base_url + "/docs", tmp_path)

    assert status == 200
    assert directives(headers["Content-Security-Policy"]) == API_DIRECTIVES
    assert set(re.findall(r'data-path="([^"]+)"', html.unescape(dom))) == set(spec["paths"])
    assert VIOLATION not in console


def test_the_policy_blocks_an_inline_script(inline_script_page, tmp_path) -> None:
    dom, console = open_in_browser(inline_script_page, tmp_path)

    assert "Executing inline script violates" in console
    assert VIOLATION in console
    assert "data-path" not in dom
