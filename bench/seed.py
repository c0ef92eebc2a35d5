"""Many users at once, with SQL: one argon2id hash shared by all, one INSERT ... SELECT."""

import sys
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.config import ARGON2_MEMORY_COST_KIB, ARGON2_PARALLELISM, ARGON2_TIME_COST


def default_argon2():
    """passlib's argon2id with the app's default parameters (what production hashes with)."""
    from passlib.hash import argon2

    return argon2.using(
        type="ID",
        memory_cost=ARGON2_MEMORY_COST_KIB,
        rounds=ARGON2_TIME_COST,
        parallelism=ARGON2_PARALLELISM,
    )


def seed_users(database_url: str, count: int, password: str, prefix: str = "user") -> list[str]:
    """Insert ``count`` users named ``{prefix}{n}`` with role user; return their usernames."""
    password_hash = default_argon2().hash(password)
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
