"""Database commands, shared by ``flask``, ``invoke`` and Heroku's release phase."""

from dataclasses import dataclass

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.access.permissions import verify_catalog
from app.access.sessions import prune_sessions
from app.accounts import personal_tokens
from app.accounts.attempts import prune_login_failures
from app.accounts.mfa import rotate_secrets
from app.accounts.password_policy import password_problems
from app.accounts.registration import prune_unconfirmed
from app.config import PROJECT_ROOT, ConfigError
from app.extensions import db, guard
from app.mail import run_worker
from app.maintenance import schedule
from app.models import User
from app.tokens import key_material, keys, tickets

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


@dataclass(frozen=True)
class SeedAccount:
    """An account ``seed-db`` creates, and where its password comes from."""

    username: str
    email: str
    role: str
    password_setting: str
    development_password: str


SEED_ACCOUNTS = (
    SeedAccount(
        "admin", "admin@example.com", "admin", "SEED_ADMIN_PASSWORD", "violet-harbor-lantern"
    ),
    SeedAccount("user", "user@example.com", "user", "SEED_USER_PASSWORD", "quiet-maple-orbit"),
)


def bind_migrations(app: Flask) -> None:
    """Bind Flask-Migrate (``flask db ...``, and ``init-db``'s upgrade) to ``app``, once.

    Only commands need it: importing it brings Alembic, about 9 MB in every web worker that
    would never use it. So the factory binds it when the app is loaded for a command, and
    ``init_db`` when it runs."""
    if "migrate" not in app.extensions:
        import flask_migrate

        flask_migrate.Migrate(app, db, directory=str(MIGRATIONS_DIR))


def init_db(drop: bool = False) -> None:
    """Bring the schema to the latest migration; with ``drop``, start from nothing."""
    import flask_migrate

    bind_migrations(current_app)
    if drop:
        # Everything in the schema goes: the models' tables and the mail queue's (procrastinate's
        # tables, types and functions), and the extensions the migrations create.
        db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        db.session.commit()
    flask_migrate.upgrade(directory=str(MIGRATIONS_DIR))
    # The migrated database must know the permissions the code declares (and no others).
    verify_catalog()


def seed_password(account: SeedAccount) -> tuple[str, bool]:
    """The account's password and whether it is the development default; either must pass the
    password policy, like any other new password."""
    configured = current_app.config.get(account.password_setting)
    if not configured and not current_app.config["SEED_DEFAULT_PASSWORDS_ALLOWED"]:
        raise click.ClickException(
            f"{account.password_setting} is not set: production does not seed default passwords"
        )
    password = configured or account.development_password
    problems = password_problems(password, account.username, account.email)
    if problems:
        raise click.ClickException(f"{account.password_setting} is refused: {' '.join(problems)}")
    return password, not configured


def seed_db() -> list[str]:
    """Create the seed accounts that do not exist yet; return one line per account."""
    report = []
    for account in SEED_ACCOUNTS:
        password, is_default = seed_password(account)
        if User.lookup(account.username) is not None:
            report.append(f"{account.username}: already present, left as it is")
            continue
        user = User(
            username=account.username,
            email=account.email,
            password=guard.hash_password(password),
            roles=account.role,
        )
        db.session.add(user)
        try:
            db.session.commit()
        except IntegrityError:
            # Another seed-db run created it between our look-up and our insert.
            db.session.rollback()
            report.append(f"{account.username}: already present, left as it is")
            continue
        shown = f"password {password!r} (development default)" if is_default else "password set"
        report.append(f"{account.username}: created (role {account.role}), {shown}")
    return report


@click.command("init-db")
@click.option("--drop", is_flag=True, help="Drop every table first, then migrate from scratch.")
@with_appcontext
def init_db_command(drop: bool) -> None:
    """Apply the migrations to the database (--drop resets it first)."""
    try:
        init_db(drop=drop)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    click.echo("Database dropped and migrated." if drop else "Database migrated.")


@click.command("seed-db")
@with_appcontext
def seed_db_command() -> None:
    """Create the admin and user accounts if they are missing."""
    for line in seed_db():
        click.echo(line)


@click.command("prune-tokens")
@with_appcontext
def prune_tokens_command() -> None:
    """Delete sessions that ended or expired (with their refresh tokens), expired tickets and
    personal tokens, accounts whose confirmation lapsed, and failed-login records that no
    longer count."""
    click.echo(f"Pruned {prune_sessions()} ended or expired session(s).")
    click.echo(f"Pruned {tickets.prune()} expired ticket(s).")
    click.echo(f"Pruned {personal_tokens.prune()} expired personal token(s).")
    click.echo(f"Pruned {prune_unconfirmed()} account(s) whose confirmation lapsed.")
    click.echo(f"Pruned {prune_login_failures()} failed-login record(s) that no longer count.")


@click.command("mail-worker")
@click.option("--until-empty", is_flag=True, help="Stop once the queue is empty.")
@with_appcontext
def mail_worker_command(until_empty: bool) -> None:
    """Send queued e-mail and keep house (the Procfile's worker process)."""
    run_worker(current_app._get_current_object(), wait=not until_empty, schedule=schedule)


@click.command("generate-signing-key")
@click.option(
    "--algorithm", type=click.Choice(["EdDSA", "ES256"]), default="EdDSA", show_default=True
)
def generate_signing_key_command(algorithm: str) -> None:
    """Print a new private signing key in PEM, for SIGNING_KEYS (README, Signing keys)."""
    click.echo(key_material.to_pem(key_material.generate(algorithm)), nl=False)


@click.command("rotate-signing-key")
@click.option(
    "--stage",
    type=click.IntRange(min=0),
    default=keys.PUBLISHED_MAX_AGE,
    show_default=True,
    help="Seconds the new key is published before it signs.",
)
@click.option(
    "--algorithm", type=click.Choice(["EdDSA", "ES256"]), default="EdDSA", show_default=True
)
@with_appcontext
def rotate_signing_key_command(stage: int, algorithm: str) -> None:
    """Add a signing key kept in the database (development and tests): published now, signing
    after --stage seconds; the key it replaces verifies until its last token expires."""
    try:
        added = keys.rotate(stage, algorithm)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    signs_from = added.signs_from.isoformat(timespec="seconds")
    click.echo(
        f"Signing key {added.kid} ({added.algorithm}) is published; it signs from {signs_from}."
    )


@click.command("rotate-mfa-keys")
@with_appcontext
def rotate_mfa_keys_command() -> None:
    """Re-encrypt every TOTP secret with the first of MFA_ENCRYPTION_KEYS."""
    click.echo(f"Re-encrypted {rotate_secrets()} TOTP secret(s) with the first key.")


def register_commands(app: Flask) -> None:
    for command in (
        init_db_command,
        seed_db_command,
        prune_tokens_command,
        rotate_mfa_keys_command,
        generate_signing_key_command,
        rotate_signing_key_command,
        mail_worker_command,
    ):
        app.cli.add_command(command)
    if click.get_current_context(silent=True) is not None:
        # Loaded by the ``flask`` command line: ``flask db ...`` looks for Flask-Migrate.
        bind_migrations(app)
