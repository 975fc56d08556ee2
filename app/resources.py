"""What the process opens once and shares: settings, database, the LiteLLM client."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from app.counters import Counters
from app.db.engine import (
    SessionFactory,
    create_engine,
    create_session_factory,
    read_only,
)
from app.db.reader import Reader
from app.failures import Failure
from app.litellm.breaker import CircuitBreaker
from app.litellm.client import LiteLLMClient
from app.litellm.monitor import LiteLLMMonitor
from app.settings import Settings
from app.singleflight import SingleFlight


@dataclass(frozen=True, slots=True)
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    reads: SessionFactory  # single read statements, outside any transaction
    reader: Reader  # the hottest single reads, at the driver's speed
    http: httpx.AsyncClient
    litellm: LiteLLMClient
    # Concurrent LiteLLM user syncs for one user share one attempt.
    user_sync: SingleFlight[Failure | None] = field(default_factory=SingleFlight)
    counters: Counters = field(default_factory=Counters)

    @classmethod
    def open(
        cls, settings: Settings, *, litellm_transport: httpx.AsyncBaseTransport | None = None
    ) -> Resources:
        """Open everything; `litellm_transport` replaces the network (the dev emulator)."""
        engine = create_engine(settings)
        if settings.litellm_url is None and litellm_transport is None:
            litellm_transport = httpx.MockTransport(_litellm_not_configured)
        master_key = settings.litellm_master_key
        headers = {"Authorization": f"Bearer {master_key.get_secret_value()}"} if master_key else {}
        http = httpx.AsyncClient(
            base_url=settings.litellm_url or "http://litellm.not-configured",
            headers=headers,
            transport=litellm_transport,
            timeout=httpx.Timeout(
                settings.litellm_read_timeout, connect=settings.litellm_connect_timeout
            ),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        breaker = CircuitBreaker(
            name="litellm",
            fail_max=settings.litellm_breaker_fail_max,
            reset_timeout=timedelta(seconds=settings.litellm_breaker_reset_seconds),
        )
        return cls(
            settings=settings,
            engine=engine,
            sessions=create_session_factory(engine),
            reads=create_session_factory(read_only(engine)),
            reader=Reader(engine, pool_size=settings.database_pool_size),
            http=http,
            litellm=LiteLLMClient(http=http, breaker=breaker, monitor=LiteLLMMonitor()),
        )

    async def close(self) -> None:
        await self.http.aclose()
        await self.reader.close()
        await self.engine.dispose()


def _litellm_not_configured(request: httpx.Request) -> httpx.Response:
    # Refuse at once, as an unreachable proxy would, instead of looking up a made-up host.
    raise httpx.ConnectError("LITELLM_URL is not set", request=request)
