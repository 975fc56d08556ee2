"""The `health` query: the service and what it depends on."""

from __future__ import annotations

import strawberry

from app.graphql.context import Info
from app.services import health

strawberry.enum(health.HealthStatus, name="HealthStatus")


@strawberry.type
class DatabaseHealth:
    status: health.HealthStatus
    latency_ms: float | None
    error: str | None


@strawberry.type
class Health:
    status: health.HealthStatus
    database: DatabaseHealth


@strawberry.type
class HealthQuery:
    @strawberry.field(description="Health of the service and of its database and LiteLLM.")
    async def health(self, info: Info) -> Health:
        db = await health.check_database(engine=info.context.resources.engine)
        return Health(
            status=health.overall_status(db.status),
            database=DatabaseHealth(status=db.status, latency_ms=db.latency_ms, error=db.error),
        )
