"""One module per domain owns every statement on its tables, writes and fast reads alike, and
answers with frozen read models built by column name: callers never choose a database path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.db.reader import Statement


def named(statement: Statement, rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """The reader's rows as mappings from the statement's column names."""
    names = statement.select.selected_columns.keys()
    return [dict(zip(names, row, strict=True)) for row in rows]
