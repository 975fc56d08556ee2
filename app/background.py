"""Periodic work in the background: LiteLLM probe, enforcement refresh, catalogue sync,
reconciler, spend sync.

Every worker process probes LiteLLM (each has its own circuit breaker) and reads the
model-access enforcement flag again. The catalogue sync and the reconciler change shared state:
with several workers or replicas, each pass runs in one process only. The first process due
records the pass's start (`job_runs`), and the others skip the pass; a PostgreSQL advisory
lock keeps a pass from starting while another is still running (SQLite serves one process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from app.db.engine import job_lock
from app.failures import database_unavailable
from app.litellm.errors import LiteLLMError
from app.resources import Resources
from app.services import catalog, health, spend

log = logging.getLogger(__name__)
# A shared job's pass is due once this share of its interval has passed since the last pass in
# any process: the timers of different processes drift apart a little.
DUE_SHARE = 0.9


async def start_up(*, resources: Resources) -> None:
    """First catalogue sync and probe, before serving.

    Neither LiteLLM nor the database being down stops the service from starting: it then
    reports the outage on `health` and /readyz, and the periodic jobs catch up.
    """
    try:
        await _refresh_enforcement(resources)
    except Exception:
        log.exception(
            "model-access enforcement not read at start: %s (MODEL_ACCESS_ENFORCEMENT) applies",
            resources.enforcement.mode.value,
        )
    try:
        await _sync_catalogue(resources)
    except LiteLLMError as exc:
        log.warning("model catalogue not synced at start (serving the last one): %s", exc)
    except Exception:
        log.exception("model catalogue not synced at start: the database failed")
    await health.probe_litellm(litellm=resources.litellm, metrics=resources.metrics)


@contextlib.asynccontextmanager
async def periodic_tasks(*, resources: Resources) -> AsyncIterator[None]:
    """Run the periodic jobs while the context is open."""
    settings = resources.settings
    jobs: list[tuple[str, float, Callable[[], Awaitable[object]]]] = [
        (
            "litellm probe",
            settings.litellm_probe_interval_seconds,
            lambda: health.probe_litellm(litellm=resources.litellm, metrics=resources.metrics),
        ),
        (
            "enforcement refresh",
            settings.model_access_enforcement_refresh_seconds,
            lambda: _refresh_enforcement(resources),
        ),
        (
            "catalogue sync",
            settings.catalog_sync_interval_seconds,
            lambda: one_worker(
                resources,
                "catalogue sync",
                lambda: _sync_catalogue(resources),
                interval=settings.catalog_sync_interval_seconds,
            ),
        ),
        (
            "reconcile",
            settings.reconcile_interval_seconds,
            lambda: one_worker(
                resources,
                "reconcile",
                lambda: resources.reconciler.run(),
                interval=settings.reconcile_interval_seconds,
            ),
        ),
        (
            "spend sync",
            settings.spend_sync_interval_seconds,
            lambda: one_worker(
                resources,
                "spend sync",
                lambda: sync_spend(resources),
                interval=settings.spend_sync_interval_seconds,
            ),
        ),
    ]
    tasks = [
        asyncio.create_task(_every(name, interval, job), name=name) for name, interval, job in jobs
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _every(name: str, interval: float, job: Callable[[], Awaitable[object]]) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await job()
        except LiteLLMError as exc:
            log.warning("%s: LiteLLM failed: %s", name, exc)
        except Exception:
            log.exception("%s failed", name)


async def one_worker(
    resources: Resources, name: str, job: Callable[[], Awaitable[object]], *, interval: float
) -> bool:
    """Run a pass of the job unless another process is running one, or started one less than
    about `interval` seconds ago; whether it ran."""
    async with job_lock(resources.engine, name) as held:
        if not held:
            log.debug("%s: running in another process, skipped here", name)
            return False
        if not await resources.job_runs.claim(
            name, not_since=timedelta(seconds=interval * DUE_SHARE)
        ):
            log.debug("%s: another process ran this pass, skipped here", name)
            return False
        log.info("%s: pass started", name)
        await job()
        return True


async def _refresh_enforcement(resources: Resources) -> None:
    """Read the enforcement mode again; while the database is unavailable, keep the last one."""
    try:
        await resources.enforcement.refresh()
    except Exception as error:
        if not database_unavailable(error):
            raise
        log.warning(
            "model-access enforcement not read (the database is unavailable): still %s",
            resources.enforcement.mode.value,
        )


async def _sync_catalogue(resources: Resources) -> object:
    return await catalog.sync_models(
        models=resources.catalogue, litellm=resources.litellm, valve=resources.valve
    )


async def sync_spend(resources: Resources) -> spend.SpendSyncReport:
    """One spend sync pass: every key's and user's spend from LiteLLM, stored."""
    return await spend.sync(
        keys=resources.api_keys, users=resources.users, litellm=resources.litellm
    )
