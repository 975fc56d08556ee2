"""Database statements and LiteLLM calls per request, counted in-process before the load.

The service runs here with the production settings of the load run: a listener on its engine
counts the statements SQLAlchemy sends, wrappers around asyncpg those the service's reader sends
straight to asyncpg and the other round trips (transaction control, pings), a transport in
front of the network the calls to LiteLLM. Nothing in the service
itself knows it is being counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event

from app.main import create_app
from app.settings import Settings
from bench.operations import Operation


@dataclass(slots=True)
class Tally:
    statements: int = 0  # SQL the service wrote (SELECT, INSERT...)
    # Other asyncpg round trips: BEGIN, COMMIT, ROLLBACK and connection pings.
    other_round_trips: int = 0
    litellm_calls: int = 0

    @property
    def round_trips(self) -> int:
        return self.statements + self.other_round_trips

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "round_trips": self.round_trips}


class CountingTransport(httpx.AsyncBaseTransport):
    """The network to LiteLLM, counting each request."""

    def __init__(self, tally: Tally) -> None:
        self._tally = tally
        self._network = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._tally.litellm_calls += 1
        return await self._network.handle_async_request(request)

    async def aclose(self) -> None:
        await self._network.aclose()


async def count_per_request(
    settings: Settings, ops: list[Operation], headers: dict[str, dict[str, str]]
) -> dict[str, dict[str, int]]:
    """For each operation, what one request of it costs (after one unmeasured request)."""
    tally = Tally()
    app = create_app(settings, litellm_transport=CountingTransport(tally))
    engine = app.state.resources.engine.sync_engine

    def on_statement(*_args: Any) -> None:
        tally.statements += 1

    counted: dict[str, dict[str, int]] = {}
    with _listening(engine, "before_cursor_execute", on_statement), _driver_calls(tally):
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                for op in ops:
                    await _send(client, op, headers[op.name])  # first use fills caches
                    tally.statements = tally.other_round_trips = tally.litellm_calls = 0
                    await _send(client, op, headers[op.name])
                    counted[op.name] = tally.as_dict()
    return counted


async def _send(client: httpx.AsyncClient, op: Operation, headers: dict[str, str]) -> None:
    method, path, body = op.request(baseline=False)
    headers = {**headers, "Content-Type": "application/json"}
    response = await client.request(method, path, content=body, headers=headers)
    response.raise_for_status()


@contextmanager
def _driver_calls(tally: Tally) -> Iterator[None]:
    """Count the reader's statements (`fetch`), and asyncpg's simple queries (transaction
    control) and single-row fetches (pings) as other round trips.

    SQLAlchemy's statements go through prepared statements, counted by the engine listener.
    """
    kinds = {"fetch": "statements", "execute": "other_round_trips", "fetchrow": "other_round_trips"}
    originals = {name: getattr(asyncpg.Connection, name) for name in kinds}

    def counted(original: Any, kind: str) -> Any:
        async def call(self: asyncpg.Connection[Any], *args: Any, **kwargs: Any) -> Any:
            setattr(tally, kind, getattr(tally, kind) + 1)
            return await original(self, *args, **kwargs)

        return call

    for name, original in originals.items():
        setattr(asyncpg.Connection, name, counted(original, kinds[name]))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(asyncpg.Connection, name, original)


@contextmanager
def _listening(target: Any, name: str, listener: Any) -> Iterator[None]:
    event.listen(target, name, listener)
    try:
        yield
    finally:
        event.remove(target, name, listener)
