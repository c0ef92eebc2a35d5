"""The golden access matrix: every operation of the OpenAPI document asked by each kind of
caller (anonymous, each built-in role, and a personal token of each scope), its status code
compared with the matrix committed in tests/golden/access_matrix.json.

The matrix was recorded before roles and permissions became data, so it proves that the
built-in roles kept exactly their access. Requests carry an empty JSON body where the operation
takes one and ids that name nothing, so no request changes what the next one sees: an allowed
caller gets 404 or 422 (or 200), a refused one 401 or 403. Each request gets a new session
token (a route may end the session it is called with), and an account that deleted itself is
made again.

A new operation is not in the matrix: the test fails and names it. Record it with
``ACCESS_MATRIX=add`` (new operations are added; a recorded one is never rewritten), and review
the diff of the matrix file.
"""

import json
import os
import re
from pathlib import Path

import pytest

from app.extensions import db
from app.models import PersonalToken, User
from app.models.columns import utcnow
from app.tokens import personal

MATRIX = Path(__file__).parent / "golden" / "access_matrix.json"
PAT_SCOPES = (
    "profile",
    "users:read",
    "users:write",
    "bucketlists:read",
    "bucketlists:write",
    "audit:read",
)
ROLES = ("user", "operator", "admin")
CALLERS = ("anonymous", *ROLES, *(f"pat:{scope}" for scope in PAT_SCOPES))
NOTHING = "987654"
PATH_VALUES = {"provider": "nowhere"}


def operations(client) -> list[tuple[str, str, bool]]:
    """(method, path template, takes a body) of every operation the API documents."""
    spec = client.get("/openapi.json").get_json()
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                found.append((method.upper(), path, "requestBody" in operation))
    return found


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), NOTHING), path)


@pytest.fixture
def callers(app, make_user, token_for):
    """Each caller's Authorization header, made anew per request."""
    accounts = {role: make_user(f"matrix-{role}", roles=(role,)) for role in ROLES}
    secrets = {}
    with app.app_context():
        for scope in PAT_SCOPES:
            secret, stored = personal.mint()
            db.session.add(
                PersonalToken(
                    user_id=accounts["admin"].id,
                    name=scope,
                    scopes=[scope],
                    digest=stored,
                    expires_at=utcnow().replace(year=utcnow().year + 1),
                )
            )
            secrets[f"pat:{scope}"] = secret
        db.session.commit()

    def headers(caller: str) -> dict[str, str]:
        if caller == "anonymous":
            return {}
        if caller in secrets:
            return {"Authorization": f"Bearer {secrets[caller]}"}
        with app.app_context():
            deleted = db.session.get(User, accounts[caller].id) is None
        if deleted:
            # DELETE /users/me deleted it: the next request gets an account like it.
            accounts[caller] = make_user(f"matrix-{caller}", roles=(caller,))
        return {"Authorization": f"Bearer {token_for(accounts[caller])}"}

    return headers


def observed(client, callers, method: str, path: str, takes_body: bool) -> dict[str, int]:
    row = {}
    for caller in CALLERS:
        body = {"json": {}} if takes_body else {}
        response = client.open(concrete(path), method=method, headers=callers(caller), **body)
        row[caller] = response.status_code
        # Ends a streamed answer now, as a server does once it is sent (GET /users/me/export).
        response.close()
    return row


def test_every_operation_answers_each_caller_as_recorded(client, callers) -> None:
    recorded = json.loads(MATRIX.read_text()) if MATRIX.exists() else {}
    seen = {}
    for method, path, takes_body in operations(client):
        seen[f"{method} {path}"] = observed(client, callers, method, path, takes_body)

    if os.environ.get("ACCESS_MATRIX") == "add":
        added = {key: row for key, row in seen.items() if key not in recorded}
        MATRIX.parent.mkdir(exist_ok=True)
        MATRIX.write_text(json.dumps({**recorded, **added}, indent=1, sort_keys=True) + "\n")
        recorded = {**recorded, **added}

    changed = {
        key: {
            caller: f"{recorded[key][caller]} -> {status}"
            for caller, status in row.items()
            if recorded[key].get(caller) != status
        }
        for key, row in seen.items()
        if key in recorded and recorded[key] != row
    }
    unrecorded = sorted(set(seen) - set(recorded))
    assert len(seen) >= 60
    assert changed == {}
    assert unrecorded == [], "new operations: record them with ACCESS_MATRIX=add"
    assert sorted(set(recorded) - set(seen)) == []
