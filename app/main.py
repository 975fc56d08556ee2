"""The application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Route

from app.auth import routes as auth_routes
from app.auth.session import session_middleware
from app.graphql.view import GraphQLView
from app.http import probes
from app.resources import Resources
from app.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> Starlette:
    # Opening resources connects nothing yet: the pool fills on first use, in the server's loop.
    resources = Resources.open(settings)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        log.info("litemaas-bff started (env=%s, auth=%s)", settings.env, settings.auth_mode)
        try:
            yield
        finally:
            await resources.close()

    app = Starlette(
        routes=[
            # Route, not Mount: a Mount answers POST /graphql with a redirect to /graphql/.
            Route("/graphql", GraphQLView(resources)),
            *auth_routes.routes,
            *probes.routes,
        ],
        middleware=[session_middleware(settings)],
        lifespan=lifespan,
    )
    app.state.resources = resources
    return app


def create_app_from_env() -> Starlette:
    """Entry point for uvicorn's `--factory`: settings from the environment."""
    return create_app(Settings())
