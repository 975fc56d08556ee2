"""The reader gives the same rows on PostgreSQL (asyncpg) as on SQLite (SQLAlchemy Core)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import SQLModel

from app.db import migrate
from app.db.models import ApiKeyStatus
from app.db.reader import Reader, as_text
from app.db.repositories import api_keys, catalogue, subscriptions, users

USER_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
NOW = datetime(2026, 11, 26, 12, 30, 15, 123456, tzinfo=UTC)
KEYS = [uuid.UUID(f"00000000-0000-4000-8000-0000000001{i:02d}") for i in range(3)]


def _rows() -> dict[str, list[dict[str, Any]]]:
    return {
        "users": [
            {
                "id": USER_ID,
                "username": "ada",
                "email": "ada@example.com",
                "oauth_provider": "oidc",
                "oauth_subject": "ada",
                "roles": ["user", "admin"],
                "is_active": True,
                "max_budget": 10.5,
                "tpm_limit": 1000,
                "rpm_limit": 60,
                "sync_status": "synced",
                "created_at": NOW,
                "updated_at": NOW,
            }
        ],
        "models": [
            {
                "id": model_id,
                "name": model_id.upper(),
                "provider": "openai" if model_id == "m1" else None,
                "context_length": 8192,
                "input_cost_per_token": 1.5e-06,
                "capabilities": ["chat", "tools"] if model_id == "m1" else [],
                "restricted_access": model_id == "ollama/llama2",
                "available": True,
                "synced_at": NOW,
                "created_at": NOW,
                "updated_at": NOW,
            }
            for model_id in ("m1", "ollama/llama2")
        ],
        "api_keys": [
            {
                "id": key_id,
                "user_id": USER_ID,
                "name": f"key {i}",
                "prefix": "sk-abcd" if i else None,
                "secret_sha256": f"{i:064x}",
                "status": ("active", "revoked", "pending")[i],
                "expires_at": NOW + timedelta(days=i) if i else None,
                "revoked_at": NOW if i == 1 else None,
                "max_budget": 2.25 if i == 0 else None,
                "created_at": NOW - timedelta(minutes=i),
                "updated_at": NOW,
            }
            for i, key_id in enumerate(KEYS)
        ],
        "subscriptions": [
            {
                "id": uuid.UUID(f"00000000-0000-4000-8000-0000000002{i:02d}"),
                "user_id": USER_ID,
                "model_id": model_id,
                "status": ("active", "cancelled")[i],
                "cancelled_at": NOW if i else None,
                "created_at": NOW - timedelta(days=i),
                "updated_at": NOW,
            }
            for i, model_id in enumerate(("m1", "ollama/llama2"))
        ],
        "api_key_models": [
            {"api_key_id": KEYS[0], "model_id": "m1"},
            {"api_key_id": KEYS[0], "model_id": "ollama/llama2"},
            {"api_key_id": KEYS[1], "model_id": "m1"},
        ],
    }


async def _filled(engine: AsyncEngine) -> AsyncEngine:
    await migrate.upgrade(engine)
    async with engine.begin() as conn:
        for table, rows in _rows().items():
            await conn.execute(sa.insert(SQLModel.metadata.tables[table]), rows)
    return engine


@pytest.fixture
async def readers(db_engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[tuple[Reader, Reader]]:
    sqlite = await _filled(create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}"))
    await _filled(db_engine)
    postgres = Reader(db_engine, pool_size=2)
    yield postgres, Reader(sqlite, pool_size=2)
    await postgres.close()
    await sqlite.dispose()


# The service's hot statements, with parameters that find rows.
STATEMENTS: dict[str, tuple[sa.Select[Any], dict[str, Any]]] = {
    "signed-in user": (users.SIGNED_IN, {"user_id": USER_ID, "generation": 0}),
    "key listing": (api_keys.LISTING, {"user_id": USER_ID}),
    "one key with its models": (api_keys.ONE, {"key_id": KEYS[0]}),
    "access check": (api_keys.ACCESS, {"digest": f"{0:064x}"}),
    "catalogue": (catalogue.CATALOGUE, {}),
    "a user's subscriptions": (subscriptions.OF_USER, {"user_id": USER_ID}),
    "a session's subscriptions": (
        subscriptions.OF_SESSION,
        {"user_id": USER_ID, "generation": 0},
    ),
}


@pytest.mark.parametrize("name", STATEMENTS)
async def test_same_rows_on_postgresql_and_sqlite(
    readers: tuple[Reader, Reader], name: str
) -> None:
    statement, params = STATEMENTS[name]
    postgres, sqlite = readers
    on_postgres = [tuple(row) for row in await postgres.all(statement, params)]
    on_sqlite = [tuple(row) for row in await sqlite.all(statement, params)]
    assert on_postgres, "the statement found nothing: the comparison would prove nothing"
    assert on_postgres == on_sqlite
    for pg_row, lite_row in zip(on_postgres, on_sqlite, strict=True):
        for pg_value, lite_value in zip(pg_row, lite_row, strict=True):
            # asyncpg's UUID subclasses uuid.UUID; anything else must be the very same type.
            assert isinstance(pg_value, type(lite_value)), (pg_value, lite_value)
            if isinstance(pg_value, datetime):
                assert pg_value.utcoffset() == lite_value.utcoffset() == timedelta(0)


async def test_the_services_read_the_rows_they_were_given(
    readers: tuple[Reader, Reader],
) -> None:
    rows = await readers[0].all(api_keys.LISTING, {"user_id": USER_ID})
    listing = [
        dict(zip(api_keys.LISTING.selected_columns.keys(), row, strict=True)) for row in rows
    ]
    # Newest first, the pending key left out, one row per model link.
    assert [(row["id"], row["status"], row["model_id"]) for row in listing] == [
        (KEYS[0], ApiKeyStatus.ACTIVE, "m1"),
        (KEYS[0], ApiKeyStatus.ACTIVE, "ollama/llama2"),
        (KEYS[1], ApiKeyStatus.REVOKED, "m1"),
    ]


async def test_a_json_or_enum_column_must_be_read_as_text(db_engine: AsyncEngine) -> None:
    reader = Reader(db_engine, pool_size=1)
    users_table = SQLModel.metadata.tables["users"]
    with pytest.raises(TypeError, match="as_text"):
        await reader.all(sa.select(users_table.c.roles), {})
    with pytest.raises(TypeError, match="as_text"):
        await reader.all(sa.select(users_table.c.sync_status), {})
    assert await reader.all(sa.select(as_text(users_table.c.sync_status)), {}) == []
    await reader.close()
