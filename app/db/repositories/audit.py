"""Audit trail: who did what to which resource, and whether it worked. Never a secret."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.models import AuditEvent


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
