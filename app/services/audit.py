"""Audit trail: who did what to which resource, and whether it worked. Never a secret."""

from __future__ import annotations

import uuid
from typing import Any

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
            details=details or {},
        )
    )
