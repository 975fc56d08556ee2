"""Single read statements on the hottest paths, at the driver's speed.

The access check, the signed-in user and the API-keys page run on nearly every request. Through
SQLAlchemy each statement costs about 0.3 ms of CPU before and after the database answers
(connection checkout, execution context, the hand-off to a greenlet): more than everything else
in an access check. So on PostgreSQL these statements run on asyncpg connections of their own, as
SQL SQLAlchemy compiled once; on SQLite (development) they run on the engine as Core statements.

Both ways must give the same rows. So a statement is declared once, at import, with
`statement()`, which compiles it for asyncpg and refuses, naming the statement and the parameter
or column, whatever the asyncpg path would run differently from SQLAlchemy: parameters
SQLAlchemy renders at execution (an `in_()` list, `expanding`, `literal_execute`; asyncpg would
be sent the placeholder), and parameters or result columns whose type SQLAlchemy converts in
Python on PostgreSQL (TypeDecorators, Enum, JSON: select those with `as_text`). It also refuses
what SQLite keeps without its time zone: date and time parameters (compared as text) and plain
`DateTime(timezone=True)` columns (a UTCDateTime gives them back in UTC). The rest, what SQLite
needs converted for its storage (text to datetime, hex to UUID), SQLAlchemy converts;
tests/test_reader.py runs every declared statement on both backends over the same rows and
compares them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.types import TypeEngine

Row = Sequence[Any]
# What SQLAlchemy passes to asyncpg.connect but asyncpg itself does not know.
_SQLALCHEMY_ONLY_ARGS = ("prepared_statement_cache_size", "prepared_statement_name_func")
# The dialects of the engines the app makes (engine.py), as they would pick them.
_POSTGRESQL = make_url("postgresql+asyncpg://").get_dialect()()
_SQLITE = make_url("sqlite+aiosqlite://").get_dialect()()
# The asyncpg dialect chooses a number's result conversion by the type PostgreSQL sends; a
# column sends its own: float8 for a Float, numeric for any other Numeric.
_FLOAT8_OID = 701
_NUMERIC_OID = 1700
_DATES_AND_TIMES = (sa.DateTime, sa.Date, sa.Time, sa.Interval)


class StatementRefused(TypeError):
    """A statement the reader could not run the same way on PostgreSQL and on SQLite."""


def as_text(column: ColumnElement[Any]) -> ColumnElement[str]:
    """A JSON or Enum column read as its stored text."""
    return sa.type_coerce(column, sa.String).label(column.key)


@dataclass(frozen=True, slots=True)
class _Fixed:
    value: Any


@dataclass(frozen=True, slots=True, eq=False)
class Statement:
    """A read statement `statement()` accepted, compiled once for asyncpg."""

    name: str
    select: Select[Any]
    # The SQL asyncpg runs, and its parameters in order: each the name of one to take from
    # the caller's, or _Fixed(value) for a value written in the statement.
    sql: str
    arguments: tuple[str | _Fixed, ...]
    # The names the caller fills.
    parameters: frozenset[str]


_declared: dict[str, Statement] = {}


def statement(name: str, select: Select[Any]) -> Statement:
    """Declare a read statement (once, at module level) for `Reader.all`.

    Raises StatementRefused, naming the statement and the parameter or column, when asyncpg
    would not run it as SQLAlchemy does; ValueError when the name is taken.
    """
    if name in _declared:
        raise ValueError(f"a reader statement named {name!r} is already declared")
    if not isinstance(select, Select):
        raise StatementRefused(f"statement {name!r}: the reader runs SELECT statements only")
    for column in select.selected_columns:
        problem = _result_problem(column.type)
        if problem is not None:
            raise StatementRefused(
                f"statement {name!r}: column {column.key or str(column)!r} {problem}"
            )
    _compiled(name, select, _SQLITE)  # what SQLite's compilation would expand, too
    compiled = _compiled(name, select, _POSTGRESQL)
    arguments = tuple(_argument(name, compiled, key) for key in compiled.positiontup or ())
    declared = _declared[name] = Statement(
        name=name,
        select=select,
        sql=compiled.string,
        arguments=arguments,
        parameters=frozenset(a for a in arguments if isinstance(a, str)),
    )
    return declared


def declared() -> Mapping[str, Statement]:
    """Every statement declared by the modules imported so far, by name."""
    return MappingProxyType(_declared)


def _compiled(name: str, select: Select[Any], dialect: Dialect) -> SQLCompiler:
    compiled = select.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    for bind in compiled.post_compile_params | compiled.literal_execute_params:
        how = (
            "is a list expanded at execution (an in_() list or bindparam(expanding=True))"
            if bind.expanding
            else "is written into the SQL at execution (literal_execute)"
        )
        raise StatementRefused(
            f"statement {name!r}: parameter {compiled.bind_names[bind]!r} {how}; asyncpg would"
            " be sent its placeholder. The reader runs statements of a fixed shape: read a"
            " list of values through a session"
        )
    return compiled


def _argument(name: str, compiled: SQLCompiler, key: str) -> str | _Fixed:
    bind: BindParameter[Any] = compiled.binds[key]
    if bind.callable is not None:
        raise StatementRefused(
            f"statement {name!r}: parameter {key!r} is computed at execution (callable_);"
            " pass its value instead"
        )
    problem = _parameter_problem(bind.type)
    if problem is not None:
        raise StatementRefused(f"statement {name!r}: parameter {key!r} {problem}")
    if bind.required:
        return key  # a bindparam("key") the caller fills
    return _Fixed(bind.effective_value)  # a value written in the statement


def _parameter_problem(type_: TypeEngine[Any]) -> str | None:
    if type_._cached_bind_processor(_POSTGRESQL) is not None:
        return (
            f"has a type that converts values in Python ({type_!r}): SQLAlchemy would, asyncpg"
            " here would not. Compare with a plain value (as_text(column) for an Enum)"
        )
    if issubclass(type_._type_affinity or sa.types.NullType, _DATES_AND_TIMES):
        return f"is a date or time ({type_!r}): SQLite compares them as text, without offset"
    return None


def _result_problem(type_: TypeEngine[Any]) -> str | None:
    affinity = type_._type_affinity or sa.types.NullType
    if issubclass(affinity, sa.JSON):
        return "is JSON, which asyncpg returns as text: select it with as_text()"
    if isinstance(type_, sa.DateTime) and type_.timezone:
        return "is a DateTime, which SQLite returns without its offset: read it as a UTCDateTime"
    oid = (
        _FLOAT8_OID
        if issubclass(affinity, sa.Float)
        else _NUMERIC_OID
        if issubclass(affinity, sa.Numeric)
        else None
    )
    if type_._cached_result_processor(_POSTGRESQL, oid) is not None:
        return (
            f"has a type that converts values in Python ({type_!r}): SQLAlchemy would, asyncpg"
            " here would not. Select it with as_text() (an Enum) or as a plain type"
        )
    return None


class _Connections:
    """The reader's connections to PostgreSQL: at most `size`, each running one statement at a
    time, opened when first needed.

    asyncpg's pool hands each connection back through a task of its own (`asyncio.shield`):
    event-loop turns that cost a statement as much CPU as running it. The reader's statements
    are single reads that change no session state, so a connection goes back as it is once its
    statement has answered; one whose statement did not (an error, a cancellation, a lost
    connection) is closed at once, its state unknown, and the next caller opens another.
    """

    def __init__(self, connect_args: Mapping[str, Any], size: int) -> None:
        self._connect_args = connect_args
        self._size = size
        self._idle: list[asyncpg.Connection[asyncpg.Record]] = []
        self._opened = 0  # idle, in use and being opened
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._closed = False

    async def fetch(self, sql: str, args: Sequence[Any]) -> list[asyncpg.Record]:
        connection = await self._acquire()
        try:
            rows: list[asyncpg.Record] = await connection.fetch(sql, *args)
        except BaseException:
            self._discard(connection)
            raise
        if self._closed or connection.is_closed():
            self._discard(connection)
        else:
            self._idle.append(connection)
            self._wake()
        return rows

    async def _acquire(self) -> asyncpg.Connection[asyncpg.Record]:
        while True:
            if self._closed:
                raise asyncpg.InterfaceError("the reader's connections are closed")
            while self._idle:
                connection = self._idle.pop()
                if not connection.is_closed():
                    return connection
                self._opened -= 1
            if self._opened < self._size:
                self._opened += 1
                try:
                    return await asyncpg.connect(**self._connect_args)
                except BaseException:
                    self._opened -= 1
                    self._wake()
                    raise
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # woken and cancelled at once: the turn passes on
                raise
            finally:
                if waiter in self._waiting:
                    self._waiting.remove(waiter)

    def _discard(self, connection: asyncpg.Connection[asyncpg.Record]) -> None:
        connection.terminate()
        self._opened -= 1
        self._wake()

    def _wake(self) -> None:
        """Let the longest-waiting caller try again: a connection is idle, or may be opened."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def close(self) -> None:
        """Close the idle connections; those in use close when their statement answers."""
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            self._opened -= 1
            await connection.close()
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)  # to find the connections closed


class Reader:
    def __init__(self, engine: AsyncEngine, *, pool_size: int) -> None:
        if engine.dialect.driver != "asyncpg" and engine.dialect.name != "sqlite":
            raise ValueError("the reader runs on PostgreSQL with asyncpg, or on SQLite")
        self._engine = engine
        self._native = engine.dialect.driver == "asyncpg"
        self._pool_size = pool_size
        self._connections: _Connections | None = None

    async def all(self, statement: Statement, params: Mapping[str, Any]) -> Sequence[Row]:
        """The statement's rows; `params` fill its `bindparam`s."""
        if not self._native:
            values = {key: params[key] for key in statement.parameters}
            async with self._engine.connect() as conn:
                result: Sequence[Row] = (await conn.execute(statement.select, values)).all()
            return result
        args = [p.value if isinstance(p, _Fixed) else params[p] for p in statement.arguments]
        if self._connections is None:
            _, kwargs = self._engine.dialect.create_connect_args(self._engine.url)
            for name in _SQLALCHEMY_ONLY_ARGS:
                kwargs.pop(name, None)
            self._connections = _Connections(kwargs, self._pool_size)
        return await self._connections.fetch(statement.sql, args)

    async def close(self) -> None:
        if self._connections is not None:
            connections, self._connections = self._connections, None
            await connections.close()
