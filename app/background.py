"""Periodic work in the background: LiteLLM probe, catalogue sync, reconciler.

Every worker process probes LiteLLM (each has its own circuit breaker). The catalogue sync and
the reconciler change shared state: with several workers, one runs each pass and the others
skip it (a PostgreSQL advisory lock; SQLite serves one process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from app.db.engine import job_lock
from app.litellm.errors import LiteLLMError
from app.resources import Resources
from app.services import catalog, health

log = logging.getLogger(__name__)


async def start_up(*, resources: Resources) -> None:
    """First catalogue sync and probe, before serving.

    Neither LiteLLM nor the database being down stops the service from starting: it then
    reports the outage on `health` and /readyz, and the periodic jobs catch up.
    """
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
            "catalogue sync",
            settings.catalog_sync_interval_seconds,
            lambda: one_worker(resources, "catalogue sync", lambda: _sync_catalogue(resources)),
        ),
        (
            "reconcile",
            settings.reconcile_interval_seconds,
            lambda: one_worker(resources, "reconcile", lambda: resources.reconciler.run()),
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


async def one_worker(resources: Resources, name: str, job: Callable[[], Awaitable[object]]) -> bool:
    """Run the job unless another process is running it; whether it ran."""
    async with job_lock(resources.engine, name) as held:
        if not held:
            log.debug("%s: running in another worker, skipped here", name)
            return False
        await job()
        return True


async def _sync_catalogue(resources: Resources) -> object:
    return await catalog.sync_models(
        models=resources.catalogue, litellm=resources.litellm, valve=resources.valve
    )
