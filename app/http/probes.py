"""Plain HTTP probes for orchestrators: /healthz (alive) and /readyz (can serve)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from app.resources import Resources
from app.services import health


async def healthz(_request: Request) -> Response:
    return PlainTextResponse("ok")


async def readyz(request: Request) -> Response:
    resources: Resources = request.app.state.resources
    db = await health.check_database(round_trip=resources.database_round_trip)
    ready = db.status is health.HealthStatus.OK
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "database": db.status.value},
        status_code=200 if ready else 503,
    )


routes = [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
