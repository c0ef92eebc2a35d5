"""SQL statements per request: revocation checks ride on the user look-up; lists do not loop."""

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from app.extensions import db


@contextmanager
def counted_statements(app):
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_an_authenticated_request_costs_one_statement(app, client, member, auth) -> None:
    headers = auth(member)

    with counted_statements(app) as statements:
        response = client.get("/users/me", headers=headers)

    assert response.status_code == 200
    assert response.get_json()["username"] == "member"
    assert len(statements) == 1
    assert "revoked_tokens" in statements[0]


@pytest.mark.parametrize("path", ["/users", "/users/admin-only"])
def test_a_list_costs_the_same_statements_whatever_the_page_size(
    app, client, admin, make_user, auth, path
) -> None:
    for number in range(12):
        make_user(f"listed{number}")
    headers = auth(admin)

    counts = []
    for per_page in (5, 100):
        with counted_statements(app) as statements:
            response = client.get(f"{path}?per_page={per_page}", headers=headers)
        assert response.status_code == 200
        assert len(response.get_json()["items"]) == min(per_page, 13)
        counts.append(len(statements))

    assert counts[0] == counts[1]
