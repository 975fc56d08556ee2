"""The `health` query: the service and what it depends on."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.context import Info
from app.graphql.safety import SafetyHold
from app.litellm.breaker import BreakerState
from app.services import health

strawberry.enum(health.HealthStatus, name="HealthStatus")


@strawberry.type
class DatabaseHealth:
    status: health.HealthStatus
    latency_ms: float | None
    error: str | None


strawberry.enum(BreakerState, name="CircuitBreakerState")


@strawberry.type
class LitellmHealth:
    status: health.HealthStatus
    latency_ms: float | None = strawberry.field(description="Of the last background probe.")
    last_sync: datetime | None = strawberry.field(
        description="When LiteLLM last answered a call or a catalogue sync."
    )
    circuit_breaker: BreakerState
    consecutive_failures: int
    last_probe_at: datetime | None
    error: str | None


@strawberry.type
class Health:
    status: health.HealthStatus
    database: DatabaseHealth
    litellm: LitellmHealth
    safety_holds: list[SafetyHold] = strawberry.field(
        description="Mass changes held by the safety valve; any makes the status DEGRADED."
    )


@strawberry.type
class HealthQuery:
    @strawberry.field(description="Health of the service and of its database and LiteLLM.")
    async def health(self, info: Info) -> Health:
        db, holds = await info.context.database_state()
        litellm = health.litellm_health(resources=info.context.resources)
        held = health.HealthStatus.DEGRADED if holds else health.HealthStatus.OK
        return Health(
            status=health.overall_status(db.status, litellm.status, held),
            safety_holds=[SafetyHold.from_hold(h) for h in holds],
            database=DatabaseHealth(status=db.status, latency_ms=db.latency_ms, error=db.error),
            litellm=LitellmHealth(
                status=litellm.status,
                latency_ms=litellm.latency_ms,
                last_sync=litellm.last_sync,
                circuit_breaker=litellm.circuit_breaker,
                consecutive_failures=litellm.consecutive_failures,
                last_probe_at=litellm.last_probe_at,
                error=litellm.error,
            ),
        )
