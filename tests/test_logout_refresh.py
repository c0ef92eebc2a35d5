"""POST /logout revokes one token at once; POST /refresh follows praetorian's window rules."""

from datetime import UTC, datetime, timedelta

import jwt
import pendulum
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import RevokedToken


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_logout_revokes_that_token_on_the_next_request(client, member, token_for) -> None:
    token = token_for(member)

    response = client.post("/logout", headers=_bearer(token))

    assert response.status_code == 204
    assert response.get_data() == b""
    after = client.get("/users/me", headers=_bearer(token))
    assert after.status_code == 401
    assert after.get_json()["error"] == "token_revoked"


def test_logout_leaves_the_users_other_tokens_and_other_users_alone(
    client, member, admin, token_for
) -> None:
    first, second, admins = token_for(member), token_for(member), token_for(admin)

    assert client.post("/logout", headers=_bearer(first)).status_code == 204

    mine = client.get("/users/me", headers=_bearer(second))
    assert mine.status_code == 200
    assert mine.get_json()["username"] == "member"
    theirs = client.get("/users/me", headers=_bearer(admins))
    assert theirs.status_code == 200
    assert theirs.get_json()["username"] == "admin"


def test_logout_twice_with_the_same_token_is_refused_the_second_time(
    client, member, token_for
) -> None:
    token = token_for(member)
    client.post("/logout", headers=_bearer(token))

    again = client.post("/logout", headers=_bearer(token))

    assert again.status_code == 401
    assert again.get_json()["error"] == "token_revoked"


def test_logout_needs_a_token(client) -> None:
    response = client.post("/logout")

    assert response.status_code == 401
    assert response.get_json()["error"] == "missing_token"


def test_a_revoked_token_cannot_be_refreshed(app, client, member, token_for) -> None:
    from app.auth.revocation import revoke_token

    expired = token_for(member, override_access_lifespan=pendulum.duration(seconds=-1))
    with app.app_context():
        revoke_token(jwt.decode(expired, options={"verify_signature": False}))
        db.session.commit()

    response = client.post("/refresh", headers=_bearer(expired))

    assert response.status_code == 401
    assert response.get_json()["error"] == "token_revoked"


def test_refresh_before_access_expired_is_425(client, member, token_for) -> None:
    response = client.post("/refresh", headers=_bearer(token_for(member)))

    assert response.status_code == 425
    assert response.get_json()["error"] == "token_not_expired"


def test_refresh_after_access_expired_returns_a_working_token(client, member, token_for) -> None:
    expired = token_for(member, override_access_lifespan=pendulum.duration(seconds=-1))
    assert client.get("/users/me", headers=_bearer(expired)).status_code == 401

    response = client.post("/refresh", headers=_bearer(expired))

    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert 890 <= body["expires_in"] <= 900
    me = client.get("/users/me", headers=_bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.get_json()["id"] == member.id


def test_refresh_after_the_refresh_window_is_401_token_expired(client, member, token_for) -> None:
    dead = token_for(
        member,
        override_access_lifespan=pendulum.duration(seconds=-2),
        override_refresh_lifespan=pendulum.duration(seconds=-1),
    )

    response = client.post("/refresh", headers=_bearer(dead))

    assert response.status_code == 401
    assert response.get_json()["error"] == "token_expired"


def test_refresh_of_a_revoked_token_is_refused(app, client, member, token_for) -> None:
    from app.models import User

    expired = token_for(member, override_access_lifespan=pendulum.duration(seconds=-1))
    with app.app_context():
        db.session.get(User, member.id).token_version += 1
        db.session.commit()

    response = client.post("/refresh", headers=_bearer(expired))

    assert response.status_code == 401
    assert response.get_json()["error"] == "token_revoked"


@pytest.mark.parametrize("header", [None, "Bearer not-a-token"])
def test_refresh_without_a_valid_token_is_401(client, header) -> None:
    headers = {"Authorization": header} if header else {}

    response = client.post("/refresh", headers=headers)

    assert response.status_code == 401
    assert response.get_json()["error"] in {"missing_token", "invalid_token"}


def test_prune_tokens_forgets_only_expired_revocations(app, runner, member) -> None:
    now = datetime.now(UTC)
    with app.app_context():
        db.session.add_all(
            [
                RevokedToken(jti="old", user_id=member.id, expires_at=now - timedelta(hours=1)),
                RevokedToken(jti="live", user_id=member.id, expires_at=now + timedelta(hours=1)),
            ]
        )
        db.session.commit()

    result = runner.invoke(args=["prune-tokens"])

    assert result.exit_code == 0, result.output
    assert "Pruned 1 expired token revocation(s)." in result.output
    with app.app_context():
        assert db.session.scalars(select(RevokedToken.jti)).all() == ["live"]


def test_deleting_a_user_deletes_their_revocations(app, client, member, token_for) -> None:
    from app.models import User

    client.post("/logout", headers=_bearer(token_for(member)))
    with app.app_context():
        db.session.delete(db.session.get(User, member.id))
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(RevokedToken)) == 0
