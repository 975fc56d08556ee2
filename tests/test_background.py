"""Shared periodic jobs: one pass at a time, and one pass per interval, in all processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from app import background
from app.db import migrate
from app.resources import Resources
from app.settings import Settings
from tests.conftest import make_settings


@pytest.fixture
async def two_workers(settings: Settings) -> AsyncIterator[tuple[Resources, Resources]]:
    """What two worker processes open on the same database."""
    first, second = Resources.open(settings), Resources.open(settings)
    yield first, second
    await first.close()
    await second.close()


async def test_a_job_running_in_one_worker_is_skipped_in_another(
    two_workers: tuple[Resources, Resources],
) -> None:
    first, second = two_workers
    started, release = asyncio.Event(), asyncio.Event()
    ran: list[str] = []

    async def slow() -> None:
        started.set()
        await release.wait()
        ran.append("first")

    async def quick() -> None:
        ran.append("second")

    running = asyncio.create_task(background.one_worker(first, "reconcile", slow, interval=0))
    await started.wait()

    assert await background.one_worker(second, "reconcile", quick, interval=0) is False
    # Another job is not held up by it.
    assert await background.one_worker(second, "catalogue sync", quick, interval=0) is True
    release.set()
    assert await running is True
    # Once done, the next pass may run anywhere.
    assert await background.one_worker(second, "reconcile", quick, interval=0) is True
    assert ran == ["second", "first", "second"]


async def test_a_failed_job_lets_go(two_workers: tuple[Resources, Resources]) -> None:
    first, second = two_workers

    async def failing() -> None:
        raise RuntimeError("the job failed")

    async def quick() -> None:
        return None

    with pytest.raises(RuntimeError, match="the job failed"):
        await background.one_worker(first, "reconcile", failing, interval=0)
    assert await background.one_worker(second, "reconcile", quick, interval=0) is True


async def test_a_pass_another_process_ran_within_the_interval_is_skipped(
    two_workers: tuple[Resources, Resources],
) -> None:
    first, second = two_workers
    ran: list[str] = []

    async def job(name: str) -> None:
        ran.append(name)

    assert await background.one_worker(first, "reconcile", lambda: job("first"), interval=60)
    # Another process's timer fires a moment later: the pass has been run.
    assert not await background.one_worker(second, "reconcile", lambda: job("second"), interval=60)
    assert not await background.one_worker(first, "reconcile", lambda: job("first"), interval=60)
    # Other jobs keep their own passes.
    assert await background.one_worker(second, "catalogue sync", lambda: job("sync"), interval=60)
    # Once the interval has passed, the next pass runs wherever a timer fires first.
    await asyncio.sleep(0.3)
    assert await background.one_worker(second, "reconcile", lambda: job("second"), interval=0.3)
    assert ran == ["first", "sync", "second"]


async def test_passes_are_recorded_on_sqlite_too(tmp_path: Path) -> None:
    """`make run` serves SQLite: one process, the same one pass per interval."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'litemaas.db'}"
    engine = create_async_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    resources = Resources.open(make_settings(database_url=url))
    ran: list[str] = []

    async def job() -> None:
        ran.append("ran")

    try:
        first = await background.one_worker(resources, "reconcile", job, interval=60)
        again = await background.one_worker(resources, "reconcile", job, interval=60)
    finally:
        await resources.close()

    assert (first, again, ran) == (True, False, ["ran"])
