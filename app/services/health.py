"""Health of the service and of what it depends on."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from app.litellm.breaker import BreakerState
from app.litellm.client import LiteLLMClient
from app.litellm.errors import LiteLLMError
from app.metrics import Metrics

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


async def check_database(*, round_trip: Callable[[], Awaitable[object]]) -> DatabaseHealth:
    """Time one round trip to the database (`round_trip` raises when it cannot make it)."""
    started = time.perf_counter()
    try:
        await round_trip()
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


@dataclass(frozen=True, slots=True)
class LiteLLMHealth:
    status: HealthStatus
    latency_ms: float | None
    last_sync: datetime | None
    circuit_breaker: BreakerState
    consecutive_failures: int
    last_probe_at: datetime | None
    error: str | None


async def probe_litellm(*, litellm: LiteLLMClient, metrics: Metrics) -> None:
    """Time a readiness call and remember the outcome (the background probe runs this)."""
    monitor = litellm.monitor
    started = time.perf_counter()
    try:
        await litellm.readiness()
    except LiteLLMError as exc:
        monitor.last_probe_ok = False
        monitor.last_probe_error = str(exc)
        monitor.last_probe_latency_ms = None
        metrics.litellm_up.set(0)
    else:
        monitor.last_probe_ok = True
        monitor.last_probe_error = None
        monitor.last_probe_latency_ms = (time.perf_counter() - started) * 1000
        metrics.litellm_up.set(1)
        metrics.litellm_probe_latency.set(monitor.last_probe_latency_ms / 1000)
    monitor.last_probe_at = datetime.now(UTC)


def litellm_health(*, litellm: LiteLLMClient) -> LiteLLMHealth:
    """What the process knows of LiteLLM now (no network call)."""
    monitor = litellm.monitor
    breaker = litellm.breaker.snapshot()
    if breaker.state is BreakerState.OPEN or monitor.last_probe_ok is False:
        status = HealthStatus.DOWN
    elif breaker.state is BreakerState.HALF_OPEN or monitor.last_probe_ok is None:
        status = HealthStatus.DEGRADED
    else:
        status = HealthStatus.OK
    return LiteLLMHealth(
        status=status,
        latency_ms=monitor.last_probe_latency_ms,
        last_sync=monitor.last_sync,
        circuit_breaker=breaker.state,
        consecutive_failures=breaker.consecutive_failures,
        last_probe_at=monitor.last_probe_at,
        error=monitor.last_probe_error,
    )
