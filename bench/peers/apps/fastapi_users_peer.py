"""fastapi-users as its documentation's full SQLAlchemy example sets it up: a UUID user table,
SQLAlchemyUserDatabase on an AsyncSession (asyncpg), a UserManager, a BearerTransport and one
authentication backend, and the auth, register, reset-password, verify and users routers
(``GET /users/me`` is the users router's, behind ``current_user(active=True)``).

PEER_STRATEGY picks the backend's strategy: ``jwt-hs256`` (the docs' JWTStrategy, HS256),
``jwt-eddsa`` (the same with ``algorithm="EdDSA"`` and a public key) or ``database`` (the docs'
DatabaseStrategy on an access-token table). Login is ``POST /auth/jwt/login`` (or
``/auth/db/login``), a form with ``username`` (the e-mail) and ``password``.

The password hash is Gatehouse's argon2id (7 MiB x 5 x 1) through pwdlib, or with
PEER_HASH=default the library's own ``PasswordHelper()``.

    python fastapi_users_peer.py setup EMAIL...   (tables, and users with PEER_PASSWORD)
"""

import asyncio
import os
import sys
import uuid
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
from fastapi_users.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from fastapi_users.authentication.strategy.db import DatabaseStrategy
from fastapi_users.db import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from fastapi_users.password import PasswordHelper
from fastapi_users_db_sqlalchemy.access_token import (
    SQLAlchemyAccessTokenDatabase,
    SQLAlchemyBaseAccessTokenTableUUID,
)
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

DATABASE_URL = (
    f"postgresql+asyncpg://{os.environ['PEER_DB_USER']}@/{os.environ['PEER_DB_NAME']}"
    f"?host={os.environ['PEER_DB_HOST']}"
)
SECRET = os.environ["PEER_SECRET"]
STRATEGY = os.environ.get("PEER_STRATEGY", "jwt-hs256")
LIFETIME_SECONDS = 3600


class Base(DeclarativeBase):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    pass


class AccessToken(SQLAlchemyBaseAccessTokenTableUUID, Base):
    pass


engine = create_async_engine(DATABASE_URL)
async_session_maker = async_sessionmaker(engine, expire_on_commit=False)


async def get_async_session():
    async with async_session_maker() as session:
        yield session


async def get_user_db(session: Annotated[AsyncSession, Depends(get_async_session)]):
    yield SQLAlchemyUserDatabase(session, User)


async def get_access_token_db(session: Annotated[AsyncSession, Depends(get_async_session)]):
    yield SQLAlchemyAccessTokenDatabase(session, AccessToken)


if os.environ.get("PEER_HASH") == "default":
    password_helper = PasswordHelper()
else:
    password_helper = PasswordHelper(
        PasswordHash((Argon2Hasher(time_cost=5, memory_cost=7168, parallelism=1),))
    )


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET


async def get_user_manager(user_db: Annotated[SQLAlchemyUserDatabase, Depends(get_user_db)]):
    yield UserManager(user_db, password_helper)


class UserRead(schemas.BaseUser[uuid.UUID]):
    pass


class UserCreate(schemas.BaseUserCreate):
    pass


class UserUpdate(schemas.BaseUserUpdate):
    pass


def get_jwt_strategy() -> JWTStrategy:
    return JWTStrategy(secret=SECRET, lifetime_seconds=LIFETIME_SECONDS)


def get_eddsa_strategy() -> JWTStrategy:
    return JWTStrategy(
        secret=os.environ["PEER_PRIVATE_KEY"],
        lifetime_seconds=LIFETIME_SECONDS,
        algorithm="EdDSA",
        public_key=os.environ["PEER_PUBLIC_KEY"],
    )


def get_database_strategy(
    access_token_db: Annotated[SQLAlchemyAccessTokenDatabase, Depends(get_access_token_db)],
) -> DatabaseStrategy:
    return DatabaseStrategy(access_token_db, lifetime_seconds=LIFETIME_SECONDS)


STRATEGIES = {
    "jwt-hs256": ("jwt", get_jwt_strategy),
    "jwt-eddsa": ("jwt", get_eddsa_strategy),
    "database": ("db", get_database_strategy),
}
backend_name, get_strategy = STRATEGIES[STRATEGY]
bearer_transport = BearerTransport(tokenUrl=f"auth/{backend_name}/login")
auth_backend = AuthenticationBackend(
    name=backend_name, transport=bearer_transport, get_strategy=get_strategy
)

fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [auth_backend])
current_active_user = fastapi_users.current_user(active=True)

app = FastAPI()
app.include_router(
    fastapi_users.get_auth_router(auth_backend), prefix=f"/auth/{backend_name}", tags=["auth"]
)
app.include_router(
    fastapi_users.get_register_router(UserRead, UserCreate), prefix="/auth", tags=["auth"]
)
app.include_router(fastapi_users.get_reset_password_router(), prefix="/auth", tags=["auth"])
app.include_router(fastapi_users.get_verify_router(UserRead), prefix="/auth", tags=["auth"])
app.include_router(
    fastapi_users.get_users_router(UserRead, UserUpdate), prefix="/users", tags=["users"]
)


async def setup(emails: list[str]) -> None:
    """The tables, and a user for each e-mail (hashed by the configured helper)."""
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with async_session_maker() as session:
        manager = UserManager(SQLAlchemyUserDatabase(session, User), password_helper)
        for email in emails:
            await manager.create(UserCreate(email=email, password=os.environ["PEER_PASSWORD"]))
    await engine.dispose()


if __name__ == "__main__":
    if sys.argv[1:2] != ["setup"]:
        sys.exit("usage: fastapi_users_peer.py setup EMAIL...")
    asyncio.run(setup(sys.argv[2:]))
