"""The async engine and the session factory."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from app.settings import Settings

SessionFactory = async_sessionmaker[AsyncSession]


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.async_database_url
    if url.startswith("sqlite"):
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _enable_sqlite_foreign_keys)
        return engine
    # DATABASE_POOL_SIZE connections here and as many in the reader's pool: a worker never
    # holds more than twice that.
    engine = create_async_engine(url, pool_size=settings.database_pool_size, max_overflow=0)
    event.listen(engine.sync_engine.pool, "checkout", _refuse_closed_connection)
    return engine


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def read_only(engine: AsyncEngine) -> AsyncEngine:
    """The engine for single read statements: autocommit, so no BEGIN and ROLLBACK round trips.

    A single statement sees one snapshot either way; anything that writes, locks or needs
    several statements to agree uses the engine itself.
    """
    return engine.execution_options(isolation_level="AUTOCOMMIT")


async def round_trip(engine: AsyncEngine) -> None:
    """One trivial statement: raises when the database cannot be reached or refuses us."""
    async with engine.connect() as conn:
        await conn.execute(sa.text("SELECT 1"))


@contextlib.asynccontextmanager
async def job_lock(engine: AsyncEngine, name: str) -> AsyncIterator[bool]:
    """A session advisory lock named after a job, held while the context is open, if free
    (whether it is); on SQLite, one process: always free."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = int.from_bytes(hashlib.sha256(f"litemaas-bff {name}".encode()).digest()[:8], signed=True)
    async with engine.connect() as conn:
        # Autocommit: no transaction stays open on this connection while the job runs.
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        if not await conn.scalar(sa.select(sa.func.pg_try_advisory_lock(key))):
            yield False
            return
        try:
            yield True
        finally:
            await conn.scalar(sa.select(sa.func.pg_advisory_unlock(key)))


def _refuse_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    # Instead of a pre-ping (three round trips per checkout with asyncpg): PostgreSQL closes
    # the socket of a connection it ends (restart, pg_terminate_backend), asyncpg notices at
    # once, and the pool replaces the connection before handing it out.
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the database closed this connection")


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
