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


def seed_organizations(
    database_url: str,
    count: int = 100_000,
    largest: int = 100_000,
    others_each: int = 14,
    member: str = "bench1",
    member_of: int = 1_000,
    bucketlists: int = 1_000,
) -> int:
    """``count`` organizations (``org-1`` ... ``org-{count}``) and their memberships, in SQL: the
    first has ``largest`` members (the users with the lowest ids, ``member`` its owner) and
    ``bucketlists`` bucketlists; every other one ``others_each`` members spread over all users;
    ``member`` also belongs to ``member_of`` of them. Each organization's member count is set
    from its rows. Returns the id of the largest."""
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        run = lambda sql, **values: connection.execute(sa.text(sql), values)  # noqa: E731
        run(
            "INSERT INTO organizations (name, slug) "
            "SELECT 'Organization ' || n, 'org-' || n FROM generate_series(1, :count) AS n",
            count=count,
        )
        largest_id = run("SELECT id FROM organizations WHERE slug = 'org-1'").scalar_one()
        owner_id = run("SELECT user_id FROM users WHERE username = :u", u=member).scalar_one()
        run(
            "INSERT INTO memberships (organization_id, user_id, roles) "
            "SELECT :org, user_id, CASE WHEN user_id = :owner THEN ARRAY['owner'] "
            "ELSE ARRAY['member'] END::varchar[] "
            "FROM (SELECT user_id FROM users ORDER BY user_id LIMIT :largest) AS chosen",
            org=largest_id,
            owner=owner_id,
            largest=largest,
        )
        users = run("SELECT count(*) FROM users").scalar_one()
        # Spread: organization n, its k-th member, the user of row (n * 7919 + k * 104729) mod
        # users (distinct within an organization while 104729 * others_each < users).
        run(
            "WITH numbered AS (SELECT user_id, row_number() OVER (ORDER BY user_id) - 1 AS i "
            "FROM users) "
            "INSERT INTO memberships (organization_id, user_id, roles) "
            "SELECT o.id, numbered.user_id, ARRAY['member']::varchar[] "
            "FROM organizations AS o CROSS JOIN generate_series(0, :each - 1) AS k "
            "JOIN numbered ON numbered.i = (o.id * 7919 + k * 104729) % :users "
            "WHERE o.id <> :largest_id "
            "ON CONFLICT DO NOTHING",
            each=others_each,
            users=users,
            largest_id=largest_id,
        )
        run(
            "INSERT INTO memberships (organization_id, user_id, roles) "
            "SELECT id, :owner, ARRAY['admin']::varchar[] FROM organizations "
            "WHERE id <> :largest_id ORDER BY id LIMIT :member_of "
            "ON CONFLICT DO NOTHING",
            owner=owner_id,
            largest_id=largest_id,
            member_of=member_of,
        )
        run(
            "UPDATE organizations AS o SET member_count = counted.n FROM "
            "(SELECT organization_id, count(*) AS n FROM memberships GROUP BY organization_id) "
            "AS counted WHERE counted.organization_id = o.id"
        )
        run(
            "INSERT INTO bucketlists (name, organization_id, created_by) "
            "SELECT 'Shared list ' || n, :org, :owner FROM generate_series(1, :count) AS n",
            org=largest_id,
            owner=owner_id,
            count=bucketlists,
        )
    engine.dispose()
    return largest_id
