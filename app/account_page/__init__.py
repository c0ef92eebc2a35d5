"""The account page at /account: plain HTML and JavaScript served by the app (no build step),
a client of the API in browser mode that lets a person sign in (password, code, passkey), see
and end sessions, turn on the authenticator app, add and remove passkeys and change the
password. It runs under the same strict Content-Security-Policy as /docs: no inline script or
style, nothing from another origin."""

from pathlib import Path

from flask import Blueprint, send_from_directory

FILES = Path(__file__).resolve().parent

blp = Blueprint("account_page", __name__)


@blp.route("/account")
def page():
    return send_from_directory(FILES, "account.html", max_age=0)


@blp.route("/account/<any('account.js', 'account.css'):filename>")
def asset(filename: str):
    return send_from_directory(FILES, filename, max_age=0)
