"""Every statement declared with the reader gives the same rows on PostgreSQL (asyncpg) as on
SQLite (SQLAlchemy Core); what it could not run the same way is refused when declared."""

from __future__ import annotations

import asyncio
import importlib
import itertools
import pkgutil
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import SQLModel

import app
from app.db import migrate, reader
from app.db.models import ApiKeyStatus
from app.db.reader import Reader, StatementRefused, as_text
from app.db.repositories import named


def _import_the_app() -> None:
    # Statements are declared at module level wherever the SQL lives: importing every module
    # of the app declares them all.
    for module in pkgutil.walk_packages(app.__path__, f"{app.__name__}."):
        if not module.name.endswith(".__main__"):
            importlib.import_module(module.name)


_import_the_app()
DECLARED = sorted(reader.declared())

USER_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
# Deactivated, and their sessions of generation 0 ended.
OTHER_ID = uuid.UUID("00000000-0000-4000-8000-000000000002")
NOW = datetime(2026, 11, 26, 12, 30, 15, 123456, tzinfo=UTC)
# Written with an offset: both backends must give it back in UTC.
EARLIER = datetime(2026, 11, 20, 9, 0, 0, 654321, tzinfo=timezone(timedelta(hours=2)))
KEYS = [uuid.UUID(f"00000000-0000-4000-8000-0000000001{i:02d}") for i in range(4)]


def _digest(i: int) -> str:
    return f"{i:064x}"


# The values each parameter takes, by name, picked from the seeded rows below so that every
# statement finds rows for some of them and nothing for others. Every combination of a
# statement's parameters is run.
ARGUMENTS: dict[str, tuple[Any, ...]] = {
    "user_id": (USER_ID, OTHER_ID, uuid.UUID(int=0)),
    "generation": (0, 1),
    "key_id": (*KEYS, uuid.UUID(int=0)),
    "digest": (*(_digest(i) for i in range(len(KEYS))), _digest(99)),
}


def _users() -> list[dict[str, Any]]:
    def user(user_id: uuid.UUID, name: str, **values: Any) -> dict[str, Any]:
        return {
            "id": user_id,
            "username": name,
            "email": f"{name}@example.com",
            "oauth_provider": "oidc",
            "oauth_subject": name,
            "roles": ["user"],
            "is_active": True,
            "max_budget": 10.5,
            "tpm_limit": 1000,
            "rpm_limit": 60,
            "sync_status": "synced",
            "last_login_at": EARLIER,
            "created_at": NOW,
            "updated_at": NOW,
            **values,
        }

    return [
        user(USER_ID, "ada", roles=["user", "admin"], last_login_at=None),
        user(OTHER_ID, "ben", is_active=False, session_generation=1, sync_status="error"),
    ]


def _rows() -> dict[str, list[dict[str, Any]]]:
    return {
        "users": _users(),
        "models": [
            {
                "id": model_id,
                "name": model_id.upper(),
                "provider": "openai" if model_id == "m1" else None,
                "description": "Llama 2, by Meta" if model_id == "ollama/llama2" else None,
                "context_length": 8192 if model_id == "m1" else None,
                "input_cost_per_token": 1.5e-06,
                "output_cost_per_token": 2e-06 if model_id == "m1" else None,
                "capabilities": ["chat", "tools"] if model_id == "m1" else [],
                "restricted_access": model_id == "ollama/llama2",
                "available": model_id != "m3",
                "synced_at": None if model_id == "m3" else EARLIER,
                "created_at": NOW,
                "updated_at": NOW,
            }
            for model_id in ("m1", "ollama/llama2", "m3")
        ],
        "api_keys": [
            {
                "id": key_id,
                "user_id": OTHER_ID if i == 3 else USER_ID,
                "name": f"key {i}",
                "prefix": "sk-abcd" if i else None,
                "secret_sha256": _digest(i),
                "status": ("active", "revoked", "pending", "active")[i],
                "expires_at": NOW + timedelta(days=i) if i else None,
                "revoked_at": EARLIER if i == 1 else None,
                "max_budget": 2.25 if i == 0 else None,
                "tpm_limit": 100 if i == 0 else None,
                "created_at": NOW - timedelta(minutes=i),
                "updated_at": NOW,
            }
            for i, key_id in enumerate(KEYS)
        ],
        "subscriptions": [
            {
                "id": uuid.UUID(f"00000000-0000-4000-8000-0000000002{i:02d}"),
                "user_id": user_id,
                "model_id": model_id,
                "status": status,
                "cancelled_at": EARLIER if status == "cancelled" else None,
                "created_at": NOW - timedelta(days=i),
                "updated_at": NOW,
            }
            for i, (user_id, model_id, status) in enumerate(
                [
                    (USER_ID, "m1", "active"),
                    (USER_ID, "ollama/llama2", "cancelled"),
                    (OTHER_ID, "m1", "active"),
                ]
            )
        ],
        "api_key_models": [
            {"api_key_id": KEYS[0], "model_id": "m1"},
            {"api_key_id": KEYS[0], "model_id": "ollama/llama2"},
            {"api_key_id": KEYS[1], "model_id": "m1"},
            {"api_key_id": KEYS[3], "model_id": "m1"},
        ],
    }


async def _filled(engine: AsyncEngine) -> AsyncEngine:
    await migrate.upgrade(engine)
    async with engine.begin() as conn:
        for table, rows in _rows().items():
            await conn.execute(sa.insert(SQLModel.metadata.tables[table]), rows)
    return engine


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on a SQLite database holding the same rows as `readers`' PostgreSQL one."""
    engine = await _filled(create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}"))
    yield engine
    await engine.dispose()


@pytest.fixture
async def readers(
    db_engine: AsyncEngine, sqlite_engine: AsyncEngine
) -> AsyncIterator[tuple[Reader, Reader]]:
    """A reader on PostgreSQL and one on SQLite, over the same rows."""
    await _filled(db_engine)
    postgres = Reader(db_engine, pool_size=2)
    yield postgres, Reader(sqlite_engine, pool_size=2)
    await postgres.close()


def _combinations(statement: reader.Statement) -> list[dict[str, Any]]:
    names = sorted(statement.parameters)
    missing = [name for name in names if name not in ARGUMENTS]
    assert not missing, (
        f"statement {statement.name!r} takes {missing}, for which ARGUMENTS has no values: add"
        " values found in the seeded rows (and values that find nothing)"
    )
    return [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*(ARGUMENTS[n] for n in names))
    ]


def _as_strings(row: Sequence[Any]) -> tuple[str, ...]:
    return tuple(map(str, row))


def _assert_same(on_postgres: Sequence[Any], on_sqlite: Sequence[Any]) -> None:
    assert on_postgres == on_sqlite
    for pg_value, lite_value in zip(on_postgres, on_sqlite, strict=True):
        if isinstance(lite_value, uuid.UUID):
            # asyncpg's UUID is a subclass of uuid.UUID.
            assert isinstance(pg_value, uuid.UUID), (pg_value, lite_value)
        else:
            assert type(pg_value) is type(lite_value), (pg_value, lite_value)
        if isinstance(pg_value, datetime):
            assert pg_value.tzinfo == lite_value.tzinfo == UTC, (pg_value, lite_value)


def test_the_app_declares_its_statements() -> None:
    # Were none found, the comparison below would compare nothing.
    assert DECLARED, "importing the app declared no reader statement"


@pytest.mark.parametrize("name", DECLARED)
async def test_every_statement_gives_the_same_rows_on_postgresql_and_sqlite(
    readers: tuple[Reader, Reader], name: str
) -> None:
    statement = reader.declared()[name]
    postgres, sqlite = readers
    found = 0
    for arguments in _combinations(statement):
        on_postgres = [tuple(row) for row in await postgres.all(statement, arguments)]
        on_sqlite = [tuple(row) for row in await sqlite.all(statement, arguments)]
        assert len(on_postgres) == len(on_sqlite), arguments
        if "ORDER BY" not in statement.sql:
            # Either backend may give unordered rows in any order.
            on_postgres.sort(key=_as_strings)
            on_sqlite.sort(key=_as_strings)
        for pg_row, lite_row in zip(on_postgres, on_sqlite, strict=True):
            _assert_same(pg_row, lite_row)
        found += len(on_postgres)
    assert found, f"{name!r} found nothing with any ARGUMENTS: the comparison proved nothing"


async def test_the_key_listing_reads_the_rows_it_was_given(
    readers: tuple[Reader, Reader],
) -> None:
    listing = reader.declared()["api_keys.listing"]
    for side in readers:
        rows = named(listing, await side.all(listing, {"user_id": USER_ID}))
        # Newest first, the pending key left out, one row per model link.
        assert [(row["id"], row["status"], row["model_id"]) for row in rows] == [
            (KEYS[0], ApiKeyStatus.ACTIVE, "m1"),
            (KEYS[0], ApiKeyStatus.ACTIVE, "ollama/llama2"),
            (KEYS[1], ApiKeyStatus.REVOKED, "m1"),
        ]


# Statements for the tests of the reader's connections, on PostgreSQL only: declared after
# DECLARED, so not compared with SQLite.
_SLEEP = reader.statement(
    "tests.backend_after_sleep",
    sa.select(
        sa.func.pg_backend_pid().label("pid"),
        sa.func.pg_sleep(sa.bindparam("seconds", type_=sa.Float)).label("slept"),
    ),
)
_DIVIDE = reader.statement(
    "tests.divide", sa.select((sa.literal(1) / sa.bindparam("by", type_=sa.Integer)).label("q"))
)


async def _backend(postgres: Reader, seconds: float = 0) -> int:
    """The server process of the connection that ran the statement."""
    rows = await asyncio.wait_for(postgres.all(_SLEEP, {"seconds": seconds}), 10)
    pid: int = rows[0][0]
    return pid


async def test_the_reader_opens_at_most_its_pool_size_and_serves_every_caller(
    db_engine: AsyncEngine,
) -> None:
    postgres = Reader(db_engine, pool_size=2)
    try:
        pids = await asyncio.gather(*(_backend(postgres, 0.1) for _ in range(6)))
        assert len(set(pids)) == 2
        # Handed back, the connections serve the next callers.
        assert set(await asyncio.gather(_backend(postgres), _backend(postgres))) == set(pids)
    finally:
        await postgres.close()


async def test_a_statement_that_did_not_answer_closes_its_connection_and_frees_its_place(
    db_engine: AsyncEngine,
) -> None:
    postgres = Reader(db_engine, pool_size=1)
    try:
        first = await _backend(postgres)
        cancelled = asyncio.create_task(_backend(postgres, 5))
        await asyncio.sleep(0.5)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        # Its state unknown, that connection was closed; the one place is free again.
        second = await _backend(postgres)
        assert second != first
        with pytest.raises(asyncpg.DivisionByZeroError):
            await postgres.all(_DIVIDE, {"by": 0})
        third = await _backend(postgres)
        assert third != second
        assert await _backend(postgres) == third
    finally:
        await postgres.close()


async def test_a_caller_cancelled_while_waiting_for_a_connection_leaves_the_others_served(
    db_engine: AsyncEngine,
) -> None:
    postgres = Reader(db_engine, pool_size=1)
    try:
        holding = asyncio.create_task(_backend(postgres, 0.3))
        await asyncio.sleep(0.1)
        gone = asyncio.create_task(_backend(postgres))
        waiting = asyncio.create_task(_backend(postgres))
        await asyncio.sleep(0.05)
        gone.cancel()
        assert await waiting == await holding
        assert gone.cancelled()
    finally:
        await postgres.close()


_users_table = SQLModel.metadata.tables["users"]


def _refused(name: str, select: sa.Select[Any], match: str) -> None:
    with pytest.raises(StatementRefused, match=match):
        reader.statement(name, select)
    assert name not in reader.declared()


def test_an_expanding_parameter_is_refused_when_declared() -> None:
    _refused(
        "users by name",
        sa.select(_users_table.c.id).where(_users_table.c.username.in_(["ada", "ben"])),
        r"statement 'users by name': parameter 'username_1' is a list expanded at execution"
        r" \(an in_\(\) list",
    )
    _refused(
        "users by ids",
        sa.select(_users_table.c.id).where(
            _users_table.c.id.in_(sa.bindparam("ids", expanding=True))
        ),
        r"statement 'users by ids': parameter 'ids' is a list expanded",
    )


def test_a_literal_execute_parameter_is_refused_when_declared() -> None:
    _refused(
        "users from a generation",
        sa.select(_users_table.c.id).where(
            _users_table.c.session_generation >= sa.bindparam("generation", literal_execute=True)
        ),
        r"statement 'users from a generation': parameter 'generation' is written into the SQL"
        r" at execution \(literal_execute\)",
    )


def test_a_parameter_of_a_converting_type_is_refused_when_declared() -> None:
    # UTCDateTime refuses naive datetimes in Python: on asyncpg nothing would refuse them.
    _refused(
        "users signed in since",
        sa.select(_users_table.c.id).where(_users_table.c.last_login_at > sa.bindparam("since")),
        r"statement 'users signed in since': parameter 'since' has a type that converts values"
        r" in Python \(UTCDateTime",
    )
    # An Enum's value is checked and turned into its text in Python.
    _refused(
        "users by sync status",
        sa.select(_users_table.c.id).where(_users_table.c.sync_status == sa.bindparam("status")),
        r"parameter 'status' has a type that converts values in Python \(Enum",
    )
    # A plain date or time: SQLite would compare its text, without the offset.
    _refused(
        "users signed in before",
        sa.select(_users_table.c.id).where(
            _users_table.c.last_login_at < sa.bindparam("before", type_=sa.DateTime(timezone=True))
        ),
        r"parameter 'before' is a date or time",
    )


def test_a_column_either_backend_would_give_differently_is_refused_when_declared() -> None:
    # asyncpg gives JSON and Enum columns as their text, SQLAlchemy converts them.
    _refused("roles", sa.select(_users_table.c.roles), r"column 'roles' is JSON.*as_text\(\)")
    _refused(
        "sync status",
        sa.select(_users_table.c.sync_status),
        r"column 'sync_status' has a type that converts values in Python.*as_text\(\)",
    )
    # SQLite gives a DateTime back without its offset, PostgreSQL with it.
    _refused(
        "last sign-in",
        sa.select(sa.type_coerce(_users_table.c.last_login_at, sa.DateTime(timezone=True))),
        r"column 'users.last_login_at' is a DateTime, which SQLite returns without its offset",
    )


async def test_an_in_list_is_refused_where_postgresql_would_have_failed(
    db_engine: AsyncEngine, sqlite_engine: AsyncEngine
) -> None:
    by_name = sa.select(_users_table.c.username).where(
        _users_table.c.username.in_(["ada", "nobody"])
    )
    _refused("users named", by_name, "parameter 'username_1' is a list expanded at execution")

    # Before the refusal: SQLite answered through SQLAlchemy, while asyncpg was sent the SQL as
    # compiled, placeholder and all, with the list as its parameter.
    compiled = by_name.compile(dialect=db_engine.dialect)
    values = [compiled.binds[key].effective_value for key in compiled.positiontup or ()]
    async with db_engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert isinstance(driver, asyncpg.Connection)
        with pytest.raises(asyncpg.UndefinedColumnError, match='column "__" does not exist'):
            await driver.fetch(compiled.string, *values)
    async with sqlite_engine.connect() as conn:
        assert (await conn.execute(by_name)).all() == [("ada",)]


def test_a_statement_name_is_declared_once() -> None:
    taken = DECLARED[0]
    with pytest.raises(ValueError, match=f"named {taken!r} is already declared"):
        reader.statement(taken, sa.select(as_text(_users_table.c.sync_status)))
