"""Health of the service and of what it depends on."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)


class HealthStatus(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class DatabaseHealth:
    status: HealthStatus
    latency_ms: float | None
    error: str | None = None


async def check_database(*, engine: AsyncEngine) -> DatabaseHealth:
    """Round-trip a trivial statement and time it."""
    started = time.perf_counter()
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "down"; the reason goes to the log and the view
        log.warning("database health check failed: %s", exc.__class__.__name__)
        return DatabaseHealth(HealthStatus.DOWN, None, exc.__class__.__name__)
    return DatabaseHealth(HealthStatus.OK, (time.perf_counter() - started) * 1000)


def overall_status(database: HealthStatus, *others: HealthStatus) -> HealthStatus:
    """The database is essential: down means down. Anything else unhealthy is degraded."""
    if database is HealthStatus.DOWN:
        return HealthStatus.DOWN
    if any(c is not HealthStatus.OK for c in (database, *others)):
        return HealthStatus.DEGRADED
    return HealthStatus.OK
