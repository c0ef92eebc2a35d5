"""Moving the signing keys kept in the database (development and tests) through time."""

from datetime import timedelta

from sqlalchemy import update

from app.extensions import db
from app.models import StoredSigningKey


def retire_the_signing_key(app, runner) -> None:
    """A new key signs, and the one before is retired: as if the new key had signed for longer
    than a token lives. (A worker that read the keys before sees it when it reads them again.)"""
    runner.invoke(args=["rotate-signing-key", "--stage", "0"])
    lifespan = app.config["JWT_ACCESS_LIFESPAN"]["seconds"]
    with app.app_context():
        db.session.execute(
            update(StoredSigningKey).values(
                signs_from=StoredSigningKey.signs_from - timedelta(seconds=lifespan + 61)
            )
        )
        db.session.commit()
