"""Test fixtures: a real PostgreSQL database per run, emptied between tests; the app over HTTP."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import SQLModel
from starlette.applications import Starlette

from app.db import migrate
from app.main import create_app
from app.resources import Resources
from app.settings import Settings
from litellm_emulator import LiteLLMEmulator
from tests.portal import Portal

# The server the tests create their database on (trust auth on the machine's PostgreSQL).
TEST_DATABASE_SERVER = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


@asynccontextmanager
async def scratch_postgres_database(prefix: str) -> AsyncIterator[str]:
    """Create an empty PostgreSQL database with a unique name; drop it afterwards."""
    server = make_url(TEST_DATABASE_SERVER)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    """One migrated database for the whole run."""
    async with scratch_postgres_database("litemaas_test") as url:
        engine = create_async_engine(url)
        await migrate.upgrade(engine)
        await engine.dispose()
        yield url


@pytest.fixture
async def db_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test database; every table is emptied after the test."""
    engine = create_async_engine(database_url)
    yield engine
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} CASCADE"))
    await engine.dispose()


EMULATOR_MASTER_KEY = "sk-emulator-master"
EMULATOR_URL = "http://litellm-emulator.test"


@pytest.fixture
def emulator() -> LiteLLMEmulator:
    """A fresh in-process LiteLLM serving m1 and m2."""
    return LiteLLMEmulator(master_key=EMULATOR_MASTER_KEY, models=["m1", "m2"])


@pytest.fixture
def settings(database_url: str, db_engine: AsyncEngine) -> Settings:
    return make_settings(
        database_url=database_url,
        litellm_url=EMULATOR_URL,
        litellm_master_key=EMULATOR_MASTER_KEY,
    )


def make_settings(**overrides: Any) -> Settings:
    """Settings for tests: nothing read from the environment or a .env file.

    The background loops are slowed so that only what a test runs itself happens.
    """
    quiet = {
        "litellm_probe_interval_seconds": 3600,
        "catalog_sync_interval_seconds": 3600,
        "reconcile_interval_seconds": 3600,
        "spend_sync_interval_seconds": 3600,
    }
    return Settings(_env_file=None, **{**quiet, **overrides})


# Sessions of the current database waiting for a lock (a row's, or a table's).
_LOCK_WAITERS = text(
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


async def lock_waiters(engine: AsyncEngine, wanted: int, *, stop: Callable[[], bool]) -> int:
    """How many sessions of the engine's PostgreSQL database wait for a lock, once `wanted` of
    them do, `stop()` holds, or 5 seconds have passed."""
    waiting = 0
    async with engine.connect() as conn:
        for _ in range(250):
            waiting = int(await conn.scalar(_LOCK_WAITERS) or 0)
            await conn.rollback()  # a transaction sees one snapshot of the activity
            if waiting >= wanted or stop():
                break
            await asyncio.sleep(0.02)
    return waiting


@asynccontextmanager
async def serve(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and give an HTTP client bound to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
def app(settings: Settings, emulator: LiteLLMEmulator) -> Starlette:
    return create_app(settings, litellm_transport=httpx.ASGITransport(app=emulator.app))


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app) as client:
        yield client


@pytest.fixture
def resources(app: Starlette, client: httpx.AsyncClient) -> Resources:
    """The running app's resources, for calling services and inspecting state."""
    found: Resources = app.state.resources
    return found


@pytest.fixture
def portal(client: httpx.AsyncClient) -> Portal:
    return Portal(client)
