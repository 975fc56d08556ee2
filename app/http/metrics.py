"""`GET /metrics`: the service's metrics (app/metrics.py) in Prometheus text format; with
several workers, every worker's."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.metrics import CONTENT_TYPE
from app.resources import Resources


async def metrics(request: Request) -> Response:
    resources: Resources = request.app.state.resources
    return Response(resources.metrics.exposition(), media_type=CONTENT_TYPE)


routes = [Route("/metrics", metrics, methods=["GET"])]
