"""One module per domain owns every statement on its tables, writes and fast reads alike, and
answers with frozen read models built by column name: callers never choose a database path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from app.db.reader import Statement


def named(statement: Statement, rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """The reader's rows as mappings from the statement's column names."""
    names = statement.select.selected_columns.keys()
    return [dict(zip(names, row, strict=True)) for row in rows]


def json_list(value: str | list[Any]) -> tuple[Any, ...]:
    """A JSON list column read as text by the reader, or decoded already by SQLAlchemy's
    asyncpg dialect."""
    return tuple(orjson.loads(value) if isinstance(value, str) else value)
