"""One module per domain owns every statement on its tables, writes and fast reads alike, and
answers with frozen read models built by column name: callers never choose a database path."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from sqlalchemy.sql import Select

from app.db.reader import Row, Statement


def named(statement: Statement, rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """The reader's rows as mappings from the statement's column names."""
    names = statement.select.selected_columns.keys()
    return [dict(zip(names, row, strict=True)) for row in rows]


def position(select: Select[Any], name: str) -> int:
    """Where the column named `name` is in rows of `select` (found once, at module level)."""
    keys = list(select.selected_columns.keys())
    if keys.count(name) != 1:
        raise ValueError(f"no single column named {name!r} in the statement")
    return keys.index(name)


def columns(select: Select[Any], names: Sequence[str]) -> Callable[[Row], tuple[Any, ...]]:
    """Reads these columns, in this order, from rows of `select` by position: the positions are
    found by column name here, once (at module level, beside the statement). For the hottest
    reads, where copying each row into a mapping (`named`) costs more than the database."""
    if len(names) < 2:
        raise ValueError("read a single column at its `position`")
    return operator.itemgetter(*(position(select, name) for name in names))


def json_list(value: str | list[Any]) -> tuple[Any, ...]:
    """A JSON list column read as text by the reader, or decoded already by SQLAlchemy's
    asyncpg dialect."""
    return tuple(orjson.loads(value) if isinstance(value, str) else value)
