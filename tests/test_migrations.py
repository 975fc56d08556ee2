from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import SQLModel

from app.db import migrate
from tests.conftest import scratch_postgres_database

APP_TABLES = {t.name for t in SQLModel.metadata.sorted_tables}


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names) - {"alembic_version"}


async def _up_and_down(engine: AsyncEngine) -> None:
    assert await _tables(engine) == set()

    await migrate.upgrade(engine)
    assert await _tables(engine) == APP_TABLES

    await migrate.downgrade(engine)
    assert await _tables(engine) == set()

    await migrate.upgrade(engine)  # and up again from empty
    assert await _tables(engine) == APP_TABLES


async def test_migrations_up_and_down_on_postgresql() -> None:
    async with scratch_postgres_database("litemaas_migrations") as url:
        engine = create_async_engine(url)
        try:
            await _up_and_down(engine)
        finally:
            await engine.dispose()


async def test_migrations_up_and_down_on_sqlite(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'litemaas.db'}")
    try:
        await _up_and_down(engine)
    finally:
        await engine.dispose()


async def test_migrations_match_the_models(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}),
                    SQLModel.metadata,
                )
            )
    finally:
        await engine.dispose()
    assert diff == [], "models changed without a migration: add one in migrations/versions"
