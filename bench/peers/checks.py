"""Every app is checked before it is measured: two users' tokens each give their own user;
a missing and a tampered token are refused with 401; a signed-out (or revoked) token is refused
with 401 where the token is looked up on every request (elsewhere what it gets is reported); a
login row's request, exactly as wrk will send it, answers 200. And the password hash each peer
stored, whose setting must be Gatehouse's unless each library's default was asked for."""

import re

import sqlalchemy as sa

from bench.peers import clients
from bench.peers.catalog import STORED_HASH, Row

# Gatehouse's argon2id setting (7 MiB x 5 passes x 1 lane), as every peer is configured.
CONFIGURED_PREFIX = "$argon2id$v=19$m=7168,t=5,p=1"
TOKEN_HEADERS = ("authorization", "authentication-token")


def check_row(row: Row, base_url: str) -> dict:
    """What the row's app answered; ``problems`` lists what was wrong (none: it passed)."""
    if row.client is None:
        status, body = clients.request(base_url, "GET", "/")
        found = {"GET /": status}
        problems = [] if status == 200 else [f"GET / answered {status}: {body}"]
        return found | {"problems": problems}
    if row.kind == "login":
        return check_login(row, base_url)
    client, problems = row.client, []
    found = {"users": {}, "looked_up": client.looked_up}
    for user in (clients.MEASURED_USER, clients.OTHER_USER):
        signed = client.sign_in(base_url, user)
        status, body = clients.request(base_url, "GET", client.me_path, client.headers(signed))
        who = client.who(body) if status == 200 else f"status {status}"
        found["users"][user] = who
        if who != client.expected(user):
            problems.append(f"{user}'s token gave {who!r}, not {client.expected(user)!r}")
    headers = client.headers(signed)
    missing = {name: value for name, value in headers.items() if name.lower() not in TOKEN_HEADERS}
    found["missing"] = clients.request(base_url, "GET", client.me_path, missing)[0]
    forged = client.headers({**signed, "token": clients.tampered(signed["token"])})
    found["tampered"] = clients.request(base_url, "GET", client.me_path, forged)[0]
    for case in ("missing", "tampered"):
        if found[case] != 401:
            problems.append(f"a {case} token answered {found[case]}, not 401")
    leaving = client.sign_in(base_url, clients.SIGNED_OUT_USER)
    found["before_sign_out"] = clients.request(
        base_url, "GET", client.me_path, client.headers(leaving)
    )[0]
    found["sign_out"] = client.sign_out(base_url, leaving)
    found["after_sign_out"] = clients.request(
        base_url, "GET", client.me_path, client.headers(leaving)
    )[0]
    if found["before_sign_out"] != 200:
        problems.append(f"the token to sign out answered {found['before_sign_out']} before")
    if client.looked_up and found["after_sign_out"] != 401:
        problems.append(f"a signed-out token answered {found['after_sign_out']}, not 401")
    return found | {"problems": problems}


def check_login(row: Row, base_url: str) -> dict:
    path, headers, body = row.client.login(clients.LOGIN_USER)
    status, answer = clients.request(base_url, "POST", path, headers, data=body.encode())
    problems = [] if status == 200 else [f"POST {path} answered {status}: {answer}"]
    return {"login": status, "problems": problems}


def hash_prefix(stored: str) -> str:
    """A stored hash up to the end of its parameters (Django puts its hasher's name first):
    ``$argon2id$v=19$m=7168,t=5,p=1``, ``argon2$argon2id$v=19$m=...``, or for another scheme
    its first two fields (``pbkdf2_sha256$1000000``)."""
    found = re.search(r"\$argon2(?:id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+", stored)
    if found:
        return stored[: found.end()]
    return "$".join(stored.split("$")[:2])


def stored_hash_prefix(database_url_of, peer: str) -> str:
    """The prefix of the hash ``peer`` stored for the login user."""
    database, query, by_email = STORED_HASH[peer]
    user = clients.LOGIN_USER
    engine = sa.create_engine(database_url_of(database))
    try:
        with engine.connect() as connection:
            stored = connection.execute(
                sa.text(query), {"user": clients.email(user) if by_email else user}
            ).scalar_one()
    finally:
        engine.dispose()
    return hash_prefix(stored)


def hash_problems(prefixes: dict[str, str], configured: bool) -> list[str]:
    """With the configured setting, every prefix must end in Gatehouse's."""
    if not configured:
        return []
    return [
        f"{peer} stored {prefix!r}, not {CONFIGURED_PREFIX!r}"
        for peer, prefix in prefixes.items()
        if not prefix.endswith(CONFIGURED_PREFIX)
    ]
