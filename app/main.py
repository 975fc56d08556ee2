"""The application factory."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from app import background
from app.auth import routes as auth_routes
from app.auth.providers import identity_provider
from app.auth.session import session_middleware
from app.graphql import ide
from app.graphql.view import GraphQLView
from app.http import authz, metrics, portal, probes
from app.http.body_limit import BodySizeLimit
from app.http.request_log import RequestLog
from app.metrics import process_exited
from app.resources import Resources
from app.settings import Environment, Settings, load_settings

log = logging.getLogger(__name__)


def create_app(
    settings: Settings, *, litellm_transport: httpx.AsyncBaseTransport | None = None
) -> Starlette:
    """The service. `litellm_transport` replaces the network to LiteLLM (an in-process emulator)."""
    # Opening resources connects nothing yet: the pool fills on first use, in the server's loop.
    resources = Resources.open(settings, litellm_transport=litellm_transport)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            await background.start_up(resources=resources)
            # Everything made so far (schema, caches, pools) lives as long as the process:
            # keep it out of the garbage collector's full passes, which would stall requests.
            gc.freeze()
            async with background.periodic_tasks(resources=resources):
                log.info("litemaas-bff started (env=%s, auth=%s)", settings.env, settings.auth_mode)
                yield
        finally:
            await resources.close()
            process_exited(os.getpid())

    # Only the sign-in routes write the session, through the middleware; GraphQL only reads
    # it (SessionCookie); /authz, the probes and /metrics serve machines and skip it.
    session = [session_middleware(settings)]
    app = Starlette(
        # The router tries routes in order: the busiest first.
        routes=[
            *authz.routes,
            # Route, not Mount: a Mount answers POST /graphql with a redirect to /graphql/.
            Route("/graphql", GraphQLView(resources)),
            *ide.asset_routes(settings),
            *auth_routes.routes(middleware=session),
            *probes.routes,
            *metrics.routes,
            # Last: in development every other GET path is the portal's page.
            *portal.routes(settings),
        ],
        middleware=[
            Middleware(RequestLog),
            Middleware(BodySizeLimit, max_bytes=settings.max_request_body_bytes),
        ],
        lifespan=lifespan,
    )
    app.state.resources = resources
    app.state.identity_provider = identity_provider(settings)
    return app


def create_app_from_env() -> Starlette:
    """`litemaas-bff serve`'s factory (uvicorn runs it in each worker): always production."""
    return create_app(load_settings(Environment.PRODUCTION))
