"""Periodic work in the background: LiteLLM probe, catalogue sync, reconciler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from app.litellm.errors import LiteLLMError
from app.resources import Resources
from app.services import catalog, health, reconcile

log = logging.getLogger(__name__)


async def start_up(*, resources: Resources) -> None:
    """First catalogue sync and probe, before serving.

    Neither LiteLLM nor the database being down stops the service from starting: it then
    reports the outage on `health` and /readyz, and the periodic jobs catch up.
    """
    try:
        await catalog.sync_models(resources=resources)
    except LiteLLMError as exc:
        log.warning("model catalogue not synced at start (serving the last one): %s", exc)
    except Exception:
        log.exception("model catalogue not synced at start: the database failed")
    await health.probe_litellm(resources=resources)


@contextlib.asynccontextmanager
async def periodic_tasks(*, resources: Resources) -> AsyncIterator[None]:
    """Run the periodic jobs while the context is open."""
    settings = resources.settings
    jobs: list[tuple[str, float, Callable[[], Awaitable[object]]]] = [
        (
            "litellm probe",
            settings.litellm_probe_interval_seconds,
            lambda: health.probe_litellm(resources=resources),
        ),
        (
            "catalogue sync",
            settings.catalog_sync_interval_seconds,
            lambda: catalog.sync_models(resources=resources),
        ),
        (
            "reconcile",
            settings.reconcile_interval_seconds,
            lambda: reconcile.reconcile(resources=resources),
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
