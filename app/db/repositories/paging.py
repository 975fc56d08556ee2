"""Cursor paging for the administrators' lists: keyset pages, each with the list's total.

A cursor is opaque to clients: the sort key and the id of the last row of a page, as base64 of
JSON. A page is read in one statement (its rows with the total beside each); only an empty
page needs a second one for the total.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

T = TypeVar("T")
MAX_PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page starts: after the row with this sort key and id."""

    key: str | datetime
    id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Edge(Generic[T]):
    node: T
    cursor: str


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    edges: list[Edge[T]]
    total: int
    has_next: bool


def encode(key: str | datetime, row_id: uuid.UUID) -> str:
    value = key.isoformat() if isinstance(key, datetime) else key
    return base64.urlsafe_b64encode(orjson.dumps([value, str(row_id)])).decode()


def decode(cursor: str, *, timestamp: bool) -> Cursor | None:
    """The cursor's position, or None when it is not one this service gave out."""
    try:
        key, row_id = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(key, str):
            return None
        return Cursor(
            key=datetime.fromisoformat(key) if timestamp else key, id=uuid.UUID(str(row_id))
        )
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        return None


async def read_page(
    session: AsyncSession,
    statement: sa.Select[Any],
    *,
    table: sa.Table,
    conditions: Sequence[ColumnElement[bool]],
    key: ColumnElement[Any],
    descending: bool,
    after: Cursor | None,
    first: int,
    build: Callable[[dict[str, Any]], T],
) -> Page[T]:
    """A page of `statement` (filtered by `conditions` on `table`, ordered by `key` then id)."""
    row_id = table.c.id
    total = sa.select(sa.func.count()).select_from(table).where(*conditions)
    where = list(conditions)
    if after is not None:
        later = sa.tuple_(key, row_id) < (after.key, after.id)
        earlier = sa.tuple_(key, row_id) > (after.key, after.id)
        where.append(later if descending else earlier)
    order = (key.desc(), row_id.desc()) if descending else (key.asc(), row_id.asc())
    paged = (
        statement.add_columns(
            key.label("page_sort_key"), total.scalar_subquery().label("total_count")
        )
        .where(*where)
        .order_by(*order)
        .limit(first + 1)
    )
    rows = [dict(row) for row in (await session.exec(paged)).mappings().all()]  # type: ignore[call-overload]
    # An empty page (past the end, or nothing matches) has no row to carry the total.
    count = (
        int(rows[0]["total_count"]) if rows else int((await session.exec(total)).scalar_one())  # type: ignore[call-overload]
    )
    edges = [Edge(build(row), encode(row["page_sort_key"], row["id"])) for row in rows[:first]]
    return Page(edges=edges, total=count, has_next=len(rows) > first)
