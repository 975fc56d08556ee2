"""What the process opens once and shares: settings, database, the LiteLLM client."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import (
    create_engine,
    create_session_factory,
    read_only,
    round_trip,
)
from app.db.reader import Reader
from app.db.repositories.api_keys import ApiKeyRepository
from app.db.repositories.audit import AuditRepository
from app.db.repositories.catalogue import CatalogueRepository
from app.db.repositories.jobs import JobRunRepository
from app.db.repositories.runtime_settings import RuntimeSettingRepository
from app.db.repositories.safety import SafetyHoldRepository
from app.db.repositories.subscriptions import SubscriptionRepository
from app.db.repositories.users import UserRepository
from app.failures import Failure
from app.litellm.breaker import CircuitBreaker
from app.litellm.client import LiteLLMClient
from app.litellm.monitor import LiteLLMMonitor
from app.metrics import Metrics
from app.services.enforcement import Enforcement
from app.services.reconcile import Reconciler
from app.services.safety import HoldKind, Valve
from app.services.users import LiteLLMUserSync
from app.settings import Settings
from app.singleflight import SingleFlight


@dataclass(frozen=True, slots=True)
class Resources:
    settings: Settings
    engine: AsyncEngine
    reader: Reader  # the hottest single reads, at the driver's speed (closed with the rest)
    api_keys: ApiKeyRepository
    audit: AuditRepository
    catalogue: CatalogueRepository
    job_runs: JobRunRepository
    safety_holds: SafetyHoldRepository
    subscriptions: SubscriptionRepository
    users: UserRepository
    http: httpx.AsyncClient
    litellm: LiteLLMClient
    # This process's copy of the model-access enforcement flag (read again periodically).
    enforcement: Enforcement
    metrics: Metrics
    # Concurrent LiteLLM user syncs for one user share one attempt.
    user_sync_flights: SingleFlight[Failure | None] = field(default_factory=SingleFlight)

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
        sessions = create_session_factory(engine)
        reads = create_session_factory(read_only(engine))
        reader = Reader(engine, pool_size=settings.database_pool_size)
        metrics = Metrics()
        for kind in HoldKind:
            metrics.safety_valve_trips.labels(kind=kind.value)
        return cls(
            settings=settings,
            engine=engine,
            reader=reader,
            api_keys=ApiKeyRepository(sessions=sessions, reader=reader),
            audit=AuditRepository(reads=reads),
            catalogue=CatalogueRepository(sessions=sessions, reader=reader),
            job_runs=JobRunRepository(sessions=sessions),
            safety_holds=SafetyHoldRepository(sessions=sessions, reads=reads),
            subscriptions=SubscriptionRepository(sessions=sessions, reader=reader),
            users=UserRepository(sessions=sessions, reads=reads, reader=reader),
            http=http,
            litellm=LiteLLMClient(
                http=http, breaker=breaker, monitor=LiteLLMMonitor(), metrics=metrics
            ),
            metrics=metrics,
            enforcement=Enforcement(
                settings=RuntimeSettingRepository(sessions=sessions, reads=reads),
                initial=settings.model_access_enforcement,
            ),
        )

    async def database_round_trip(self) -> None:
        await round_trip(self.engine)

    @property
    def user_sync(self) -> LiteLLMUserSync:
        return LiteLLMUserSync(
            users=self.users,
            litellm=self.litellm,
            settings=self.settings,
            metrics=self.metrics,
            flights=self.user_sync_flights,
        )

    @property
    def reconciler(self) -> Reconciler:
        return Reconciler(
            api_keys=self.api_keys,
            users=self.users,
            litellm=self.litellm,
            valve=self.valve,
            user_sync=self.user_sync,
            settings=self.settings,
            metrics=self.metrics,
        )

    @property
    def valve(self) -> Valve:
        return Valve(holds=self.safety_holds, settings=self.settings, metrics=self.metrics)

    async def close(self) -> None:
        await self.http.aclose()
        await self.reader.close()
        await self.engine.dispose()


def _litellm_not_configured(request: httpx.Request) -> httpx.Response:
    # Refuse at once, as an unreachable proxy would, instead of looking up a made-up host.
    raise httpx.ConnectError("LITELLM_URL is not set", request=request)
