"""/docs in a real browser (Debian's chromium, headless) against gunicorn: Swagger UI renders every
operation under the page's Content-Security-Policy, which allows no inline script; the bearer
token is kept in the browser's storage only in development."""

import html
import os
import re
import shutil
import subprocess
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import flask_smorest
import pytest

from app.config import load_config
from app.observability import DOCS_CONTENT_SECURITY_POLICY
from bench.harness import SIGNING_KEY, call, production_env, serving

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
VIOLATION = "Content Security Policy"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="needs Debian's chromium: `invoke test` installs it when run as root "
    "(else: sudo apt-get install chromium)",
)


def open_in_browser(url: str, tmp_path: Path) -> tuple[str, str]:
    """The page's DOM once its scripts have run, and the browser's console log."""
    assert CHROMIUM is not None, "chromium is missing: CI must run the browser tests"
    result = subprocess.run(
        [
            CHROMIUM,
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
def server(migrated_database, tmp_path_factory):
    with serving(
        production_env(migrated_database, WEB_CONCURRENCY="1"),
        tmp_path_factory.mktemp("docs") / "web.log",
    ) as running:
        yield running


@pytest.fixture
def inline_script_page():
    """flask-smorest's own Swagger UI page (its settings in an inline script) served under our
    policy: the control that shows the browser enforces it and the test sees a violation."""
    template = Path(flask_smorest.__file__).parent / "spec" / "templates" / "swagger_ui.html"
    page = template.read_text().encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Security-Policy", DOCS_CONTENT_SECURITY_POLICY)
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
    assert headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert set(re.findall(r'data-path="([^"]+)"', html.unescape(dom))) == set(spec["paths"])
    assert VIOLATION not in console


def test_the_policy_blocks_an_inline_script(inline_script_page, tmp_path) -> None:
    dom, console = open_in_browser(inline_script_page, tmp_path)

    assert "Executing inline script violates" in console
    assert VIOLATION in console
    assert "data-path" not in dom


def test_the_docs_page_sends_its_policy_and_no_inline_script(server) -> None:
    with urllib.request.urlopen(server.base_url + "/docs", timeout=10) as page:
        policy = page.headers["Content-Security-Policy"]
        body = page.read().decode()

    assert policy == DOCS_CONTENT_SECURITY_POLICY
    assert re.findall(r"<script[^>]*>", body) == [
        '<script src="/docs/assets/swagger-ui-bundle.js">',
        '<script src="/docs/docs.js">',
    ]


@pytest.mark.parametrize(("config", "persisted"), [("development", True), ("production", False)])
def test_the_token_is_kept_in_browser_storage_only_in_development(
    monkeypatch, database_url, config, persisted
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    monkeypatch.setenv("SIGNING_KEYS", SIGNING_KEY)

    settings = load_config(config).OPENAPI_SWAGGER_UI_CONFIG

    assert settings.get("persistAuthorization", False) is persisted
    assert settings["tryItOutEnabled"] is True
