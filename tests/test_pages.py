"""The pages a browser shows (Swagger UI at /docs, the account page at /account) and everything
else: the Content-Security-Policy each is sent with, directive by directive, and pages that
carry no inline script or style. Their rendering in a real browser is in test_docs_browser.py
and test_account_page.py."""

import re

import pytest

from app.config import load_config
from tests.support.policy import API_DIRECTIVES, PAGE_DIRECTIVES, directives
from tests.support.processes import SIGNING_KEY


def test_the_docs_page_sends_its_policy_and_no_inline_script(client) -> None:
    with client.get("/docs") as response:
        body = response.get_data(as_text=True)

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert directives(response.headers["Content-Security-Policy"]) == PAGE_DIRECTIVES
    assert re.findall(r"<script[^>]*>", body) == [
        '<script src="/docs/assets/swagger-ui-bundle.js">',
        '<script src="/docs/docs.js">',
    ]


def test_the_account_page_is_served_under_the_strict_policy_with_no_inline_script(
    client,
) -> None:
    with client.get("/account") as response:
        body = response.get_data(as_text=True)

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert directives(response.headers["Content-Security-Policy"]) == PAGE_DIRECTIVES
    assert re.findall(r"<script[^>]*>", body) == ['<script src="/account/account.js" defer>']
    assert "style=" not in body
    assert "<style" not in body


@pytest.mark.parametrize("path", ["/", "/health", "/openapi.json", "/users/me", "/nowhere"])
def test_every_other_answer_allows_nothing(client, path) -> None:
    """JSON is no page: no source of any kind, and no framing."""
    response = client.get(path)

    assert response.mimetype == "application/json"
    assert response.get_json() is not None
    assert directives(response.headers["Content-Security-Policy"]) == API_DIRECTIVES


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
