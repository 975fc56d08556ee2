"""The `health` query: the service and what it depends on."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.context import Info
from app.graphql.enums import CircuitBreakerStateEnum, HealthStatusEnum, api_value
from app.graphql.safety import SafetyHoldType
from app.services import health


@strawberry.type(name="DatabaseHealth")
class DatabaseHealthType:
    status: HealthStatusEnum
    latency_ms: float | None
    error: str | None


@strawberry.type
class LitellmHealth:
    status: HealthStatusEnum
    latency_ms: float | None = strawberry.field(description="Of the last background probe.")
    last_sync: datetime | None = strawberry.field(
        description="When LiteLLM last answered a call or a catalogue sync."
    )
    circuit_breaker: CircuitBreakerStateEnum
    consecutive_failures: int
    last_probe_at: datetime | None
    error: str | None


@strawberry.type
class Health:
    status: HealthStatusEnum
    database: DatabaseHealthType
    litellm: LitellmHealth
    safety_holds: list[SafetyHoldType] = strawberry.field(
        description="Mass changes held by the safety valve; any makes the status DEGRADED."
    )


@strawberry.type
class HealthQuery:
    @strawberry.field(description="Health of the service and of its database and LiteLLM.")
    async def health(self, info: Info) -> Health:
        db, holds = await info.context.database_state()
        litellm = health.litellm_health(litellm=info.context.resources.litellm)
        held = health.HealthStatus.DEGRADED if holds else health.HealthStatus.OK
        return Health(
            status=api_value(
                HealthStatusEnum, health.overall_status(db.status, litellm.status, held)
            ),
            safety_holds=[SafetyHoldType.from_read(h) for h in holds],
            database=DatabaseHealthType(
                status=api_value(HealthStatusEnum, db.status),
                latency_ms=db.latency_ms,
                error=db.error,
            ),
            litellm=LitellmHealth(
                status=api_value(HealthStatusEnum, litellm.status),
                latency_ms=litellm.latency_ms,
                last_sync=litellm.last_sync,
                circuit_breaker=api_value(CircuitBreakerStateEnum, litellm.circuit_breaker),
                consecutive_failures=litellm.consecutive_failures,
                last_probe_at=litellm.last_probe_at,
                error=litellm.error,
            ),
        )
