"""Audit trail: who did what to which resource, and whether it worked. Never a secret."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import AuditEvent
from app.db.repositories import paging
from app.db.repositories.paging import Cursor, Page


@dataclass(frozen=True, slots=True)
class AuditEventRead:
    id: uuid.UUID
    actor_id: uuid.UUID | None
    action: str
    resource_type: str
    resource_id: str | None
    success: bool
    details: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which events a list shows; None matches every one. `subject_id` is the resource's id."""

    actor_id: uuid.UUID | None = None
    subject_id: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


EVENTS = SQLModel.metadata.tables["audit_events"]


class AuditRepository:
    def __init__(self, *, reads: SessionFactory) -> None:
        self._reads = reads

    async def page(
        self, found_by: AuditFilter, *, first: int, after: Cursor | None
    ) -> Page[AuditEventRead]:
        """A page of the events `found_by` matches, newest first, with their number."""
        async with self._reads() as session:
            return await paging.read_page(
                session,
                sa.select(EVENTS),
                table=EVENTS,
                conditions=_matching(found_by),
                key=EVENTS.c.created_at,
                descending=True,
                after=after,
                first=first,
                build=_read,
            )


def _matching(found_by: AuditFilter) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if found_by.actor_id is not None:
        conditions.append(EVENTS.c.actor_id == found_by.actor_id)
    if found_by.subject_id is not None:
        conditions.append(EVENTS.c.resource_id == found_by.subject_id)
    if found_by.action is not None:
        conditions.append(EVENTS.c.action == found_by.action)
    if found_by.since is not None:
        conditions.append(EVENTS.c.created_at >= found_by.since)
    if found_by.until is not None:
        conditions.append(EVENTS.c.created_at < found_by.until)
    return conditions


def _read(row: dict[str, Any]) -> AuditEventRead:
    return AuditEventRead(
        id=row["id"],
        actor_id=row["actor_id"],
        action=row["action"],
        resource_type=row["resource_type"],
        resource_id=row["resource_id"],
        success=row["success"],
        details=dict(row["details"] or {}),
        created_at=row["created_at"],
    )


def record(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    resource_type: str,
    resource_id: str | None = None,
    success: bool = True,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an event to the caller's unit of work (committed with it)."""
    session.add(
        AuditEvent(
            actor_id=actor_id,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            success=success,
            details=bounded(details or {}),
        )
    )


# An event records what happened, not what was sent: a long value is cut, and details that
# would still be larger than this are replaced by a note that they were.
MAX_DETAIL_TEXT = 256
MAX_DETAIL_ITEMS = 50
MAX_DETAILS_BYTES = 4096


def bounded(details: dict[str, Any]) -> dict[str, Any]:
    """The details with long texts and lists cut, at most MAX_DETAILS_BYTES as JSON."""
    cut = {str(name)[:MAX_DETAIL_TEXT]: _cut(value) for name, value in details.items()}
    if len(orjson.dumps(cut, default=str)) <= MAX_DETAILS_BYTES:
        return cut
    return {"truncated": True, "fields": sorted(cut)[:MAX_DETAIL_ITEMS]}


def _cut(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= MAX_DETAIL_TEXT else value[:MAX_DETAIL_TEXT] + "…"
    if isinstance(value, list | tuple):
        return [_cut(item) for item in value[:MAX_DETAIL_ITEMS]]
    if isinstance(value, dict):
        return {
            str(k)[:MAX_DETAIL_TEXT]: _cut(v) for k, v in list(value.items())[:MAX_DETAIL_ITEMS]
        }
    return value
