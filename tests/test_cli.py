"""init-db and seed-db, as Flask commands (the same ones invoke and Heroku run)."""

import subprocess
import sys

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text

from app import create_app
from app.cli import MIGRATIONS_DIR
from app.config import PROJECT_ROOT
from app.extensions import db
from app.models import User
from tests.support.processes import SIGNING_KEY, production_env


def _users(app) -> list[tuple[str, str, str]]:
    with app.app_context():
        rows = db.session.scalars(select(User).order_by(User.user_id)).all()
        return [(user.username, user.email, user.roles) for user in rows]


def test_seed_db_twice_creates_each_account_once(app, runner, client) -> None:
    first = runner.invoke(args=["seed-db"])
    second = runner.invoke(args=["seed-db"])

    assert first.exit_code == 0, first.output
    assert "admin: created (role admin), password 'violet-harbor-lantern'" in first.output
    assert "user: created (role user), password 'quiet-maple-orbit'" in first.output
    assert second.exit_code == 0, second.output
    assert second.output.count("already present") == 2
    assert _users(app) == [
        ("admin", "admin@example.com", "admin"),
        ("user", "user@example.com", "user"),
    ]
    login = client.post("/login", json={"username": "admin", "password": "violet-harbor-lantern"})
    assert login.status_code == 200
    assert login.get_json()["token_type"] == "Bearer"


def test_seed_db_uses_passwords_from_the_environment(make_app, monkeypatch) -> None:
    monkeypatch.setenv("SEED_ADMIN_PASSWORD", "from-the-environment-1")
    app = make_app()
    client = app.test_client()

    result = app.test_cli_runner().invoke(args=["seed-db"])
    login = client.post("/login", json={"username": "admin", "password": "from-the-environment-1"})
    default = client.post("/login", json={"username": "admin", "password": "violet-harbor-lantern"})

    assert result.exit_code == 0, result.output
    assert "admin: created (role admin), password set" in result.output
    assert "from-the-environment-1" not in result.output
    assert login.status_code == 200
    assert login.get_json()["token_type"] == "Bearer"
    assert default.status_code == 401
    assert default.get_json()["error"] == "invalid_credentials"


@pytest.mark.parametrize("missing", ["SEED_ADMIN_PASSWORD", "SEED_USER_PASSWORD"])
def test_production_refuses_to_seed_without_passwords(
    app, monkeypatch, database_url, missing
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "p" * 40)
    monkeypatch.setenv("SIGNING_KEYS", SIGNING_KEY)
    monkeypatch.setenv("SEED_ADMIN_PASSWORD", "keeper-password-long")
    monkeypatch.setenv("SEED_USER_PASSWORD", "member-password-long")
    monkeypatch.delenv(missing)
    production = create_app("production")

    result = production.test_cli_runner().invoke(args=["seed-db"])

    assert result.exit_code == 1
    assert f"{missing} is not set: production does not seed default passwords" in result.output
    assert "violet-harbor-lantern" not in result.output
    if missing == "SEED_USER_PASSWORD":
        assert [row[0] for row in _users(app)] == ["admin"]
    else:
        assert _users(app) == []


def test_init_db_is_idempotent_and_drop_resets(app, runner, make_user) -> None:
    make_user("doomed")

    again = runner.invoke(args=["init-db"])
    assert again.exit_code == 0, again.output
    assert again.output.strip().endswith("Database migrated.")
    assert [row[0] for row in _users(app)] == ["doomed"]

    reset = runner.invoke(args=["init-db", "--drop"])
    assert reset.exit_code == 0, reset.output
    assert "Database dropped and migrated." in reset.output
    assert _users(app) == []
    with app.app_context():
        version = db.session.scalar(text("SELECT version_num FROM alembic_version"))
        assert version == ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_models_and_migrations_agree(app) -> None:
    """Autogenerate finds nothing to do: no change to a model lacks its migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from app.mail import models_own

    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": models_own})
        differences = compare_metadata(context, db.metadata)

    assert differences == []


def _python(code_or_args: list[str], database_url: str) -> subprocess.CompletedProcess:
    """A fresh interpreter with a production environment (nothing imported by the tests)."""
    return subprocess.run(
        [sys.executable, *code_or_args],
        cwd=PROJECT_ROOT,
        env=production_env(database_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_the_web_app_does_not_load_the_migration_tools(database_url) -> None:
    """Web workers never migrate: Flask-Migrate (with Alembic, ~9 MB each) stays out of them."""
    loaded = _python(
        [
            "-c",
            "import sys; from app import create_app; app = create_app(); "
            "print(sorted({'flask_migrate', 'alembic'} & set(sys.modules)), "
            "'migrate' in app.extensions)",
        ],
        database_url,
    )

    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[] False"


@pytest.mark.slow
def test_flask_db_commands_find_the_migrations(database_url) -> None:
    heads = ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()

    shown = _python(["-m", "flask", "--app", "app", "db", "heads"], database_url)

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == [heads[0], "(head)"]
