"""Single read statements on the hottest paths, at the driver's speed.

The access check, the signed-in user and the API-keys page run on nearly every request. Through
SQLAlchemy each statement costs about 0.3 ms of CPU before and after the database answers
(connection checkout, execution context, the hand-off to a greenlet): more than everything else
in an access check. So on PostgreSQL these statements are compiled once by SQLAlchemy and run on
an asyncpg pool of their own; on SQLite (development) they run on the engine as Core statements.

Rows are tuples in the statement's column order and hold the same values either way: JSON and
Enum columns, which asyncpg would return as text, are refused (select them with `as_text`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.compiler import SQLCompiler

Row = Sequence[Any]
# What SQLAlchemy passes to asyncpg.connect but asyncpg itself does not know.
_SQLALCHEMY_ONLY_ARGS = ("prepared_statement_cache_size", "prepared_statement_name_func")


def as_text(column: ColumnElement[Any]) -> ColumnElement[str]:
    """A JSON or Enum column read as its stored text."""
    return sa.type_coerce(column, sa.String).label(column.key)


@dataclass(frozen=True, slots=True)
class _Fixed:
    value: Any


async def _no_reset(_connection: asyncpg.Connection[asyncpg.Record]) -> None:
    # asyncpg would otherwise send RESET ALL & co. after each statement: a round trip for
    # nothing, as these single reads change no session state.
    return None


class Reader:
    def __init__(self, engine: AsyncEngine, *, pool_size: int) -> None:
        self._engine = engine
        self._native = engine.dialect.driver == "asyncpg"
        self._pool_size = pool_size
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None
        self._opening = asyncio.Lock()
        # Per statement: its SQL for asyncpg and its parameters in order, each the name of one
        # to take from `params` or, for a value written in the statement, _Fixed(value).
        self._compiled: dict[Select[Any], tuple[str, tuple[str | _Fixed, ...]]] = {}

    async def all(self, statement: Select[Any], params: Mapping[str, Any]) -> Sequence[Row]:
        """The statement's rows; `params` fill its `bindparam`s."""
        if not self._native:
            async with self._engine.connect() as conn:
                result: Sequence[Row] = (await conn.execute(statement, dict(params))).all()
            return result
        sql, order = self._compile(statement)
        args = [p.value if isinstance(p, _Fixed) else params[p] for p in order]
        pool = self._pool or await self._open()
        rows: list[asyncpg.Record] = await pool.fetch(sql, *args)
        return rows

    def _compile(self, statement: Select[Any]) -> tuple[str, tuple[str | _Fixed, ...]]:
        found = self._compiled.get(statement)
        if found is None:
            for column in statement.selected_columns:
                if isinstance(column.type, sa.JSON | sa.Enum):
                    raise TypeError(f"select {column.key} with as_text(): asyncpg returns text")
            compiled = statement.compile(dialect=self._engine.dialect)
            assert isinstance(compiled, SQLCompiler)
            order = tuple(_parameter(compiled, name) for name in compiled.positiontup or ())
            found = self._compiled[statement] = (compiled.string, order)
        return found

    async def _open(self) -> asyncpg.Pool[asyncpg.Record]:
        async with self._opening:
            if self._pool is None:
                _, kwargs = self._engine.dialect.create_connect_args(self._engine.url)
                for name in _SQLALCHEMY_ONLY_ARGS:
                    kwargs.pop(name, None)
                self._pool = await asyncpg.create_pool(
                    **kwargs, min_size=0, max_size=self._pool_size, reset=_no_reset
                )
            return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def _parameter(compiled: SQLCompiler, name: str) -> str | _Fixed:
    bind = compiled.binds[name]
    if bind.required or bind.callable is not None:
        return name  # a bindparam("name") to fill from `params`
    return _Fixed(bind.effective_value)  # a value written in the statement
