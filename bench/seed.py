"""Many users at once, with SQL: one argon2id hash shared by all, one INSERT ... SELECT."""

import sys
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def seed_users(database_url: str, count: int, password: str, prefix: str = "user") -> list[str]:
    """Insert ``count`` users named ``{prefix}{n}`` with role user; return their usernames."""
    from passlib.hash import argon2

    password_hash = argon2.using(type="ID", memory_cost=19456, rounds=2, parallelism=1).hash(
        password
    )
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO users (username, email, password, roles) "
                "SELECT :prefix || n, :prefix || n || '@example.com', :hash, 'user' "
                "FROM generate_series(1, :count) AS n"
            ),
            {"prefix": prefix, "hash": password_hash, "count": count},
        )
    engine.dispose()
    return [f"{prefix}{n}" for n in range(1, count + 1)]
