"""The circuit breaker, driven through the real client over a counting network boundary."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.litellm.breaker import BreakerState, CircuitBreaker
from app.litellm.client import LiteLLMClient
from app.litellm.errors import LiteLLMNotFound, LiteLLMRejected, LiteLLMUnavailable
from app.litellm.monitor import LiteLLMMonitor
from app.metrics import Metrics

RESET = timedelta(milliseconds=200)
USER = {"user_id": "u1", "user_info": {"user_id": "u1"}}


class Network:
    """Stands in for LiteLLM's side of the socket: counts what reaches it, answers as told."""

    def __init__(self) -> None:
        self.requests = 0
        self.mode = "up"
        self.delay = 0.0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.mode == "refused":
            raise httpx.ConnectError("connection refused", request=request)
        if self.mode == "timeout":
            raise httpx.ReadTimeout("read timed out", request=request)
        if self.mode == "500":
            return httpx.Response(500, json={"error": {"message": "boom", "code": "500"}})
        if self.mode == "404":
            return httpx.Response(404, json={"error": {"message": "nope", "code": "404"}})
        if self.mode == "401":
            return httpx.Response(401, json={"error": {"type": "auth_error", "code": "401"}})
        return httpx.Response(200, json=USER)


@pytest.fixture
def network() -> Network:
    return Network()


@pytest.fixture
async def client(network: Network) -> AsyncIterator[LiteLLMClient]:
    breaker = CircuitBreaker(name="litellm", fail_max=3, reset_timeout=RESET)
    transport = httpx.MockTransport(network.handle)
    async with httpx.AsyncClient(transport=transport, base_url="http://litellm") as http:
        yield LiteLLMClient(http=http, breaker=breaker, monitor=LiteLLMMonitor(), metrics=Metrics())


async def _trip(client: LiteLLMClient, network: Network) -> None:
    network.mode = "500"
    for _ in range(3):
        with pytest.raises(LiteLLMUnavailable):
            await client.user_info("u1")
    assert client.breaker.snapshot().state is BreakerState.OPEN


async def test_fail_max_unavailability_failures_open_it(
    client: LiteLLMClient, network: Network
) -> None:
    network.mode = "500"
    for expected_failures in (1, 2):
        with pytest.raises(LiteLLMUnavailable):
            await client.user_info("u1")
        snapshot = client.breaker.snapshot()
        assert (snapshot.state, snapshot.consecutive_failures) == (
            BreakerState.CLOSED,
            expected_failures,
        )

    # The tripping call reports its own failure (a 500), not the breaker's.
    with pytest.raises(LiteLLMUnavailable) as tripped:
        await client.user_info("u1")
    assert tripped.value.status == 500
    snapshot = client.breaker.snapshot()
    assert snapshot.state is BreakerState.OPEN
    assert snapshot.last_transition_at is not None
    assert snapshot.reopens_at is not None


async def test_open_fails_at_once_without_touching_the_network(
    client: LiteLLMClient, network: Network
) -> None:
    await _trip(client, network)
    reached = network.requests

    started = time.perf_counter()
    with pytest.raises(LiteLLMUnavailable, match="circuit breaker is open"):
        await client.user_info("u1")
    elapsed_ms = (time.perf_counter() - started) * 1000

    assert network.requests == reached
    assert elapsed_ms < 5


@pytest.mark.parametrize("mode", ["404", "401"])
async def test_4xx_answers_never_open_it(
    client: LiteLLMClient, network: Network, mode: str
) -> None:
    network.mode = mode
    for _ in range(10):
        with pytest.raises((LiteLLMNotFound, LiteLLMRejected)):
            await client.user_info("u1")

    snapshot = client.breaker.snapshot()
    assert (snapshot.state, snapshot.consecutive_failures) == (BreakerState.CLOSED, 0)


async def test_timeouts_and_refused_connections_count(
    client: LiteLLMClient, network: Network
) -> None:
    network.mode = "timeout"
    with pytest.raises(LiteLLMUnavailable, match="timed out"):
        await client.user_info("u1")
    network.mode = "refused"
    with pytest.raises(LiteLLMUnavailable, match="cannot connect"):
        await client.user_info("u1")

    assert client.breaker.snapshot().consecutive_failures == 2


async def test_after_the_reset_timeout_one_of_ten_callers_probes_and_success_closes(
    client: LiteLLMClient, network: Network
) -> None:
    await _trip(client, network)
    await asyncio.sleep(RESET.total_seconds())
    network.mode = "up"
    network.delay = 0.05  # the probe is still in flight while the others arrive
    reached = network.requests

    results = await asyncio.gather(
        *(client.user_info("u1") for _ in range(10)), return_exceptions=True
    )

    assert network.requests - reached == 1
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, LiteLLMUnavailable) for r in results if isinstance(r, BaseException))
    assert client.breaker.snapshot().state is BreakerState.CLOSED
    await client.user_info("u1")  # and calls flow again


async def test_a_failed_probe_reopens(client: LiteLLMClient, network: Network) -> None:
    await _trip(client, network)
    await asyncio.sleep(RESET.total_seconds())

    with pytest.raises(LiteLLMUnavailable) as probe:
        await client.user_info("u1")

    assert probe.value.status == 500
    snapshot = client.breaker.snapshot()
    assert snapshot.state is BreakerState.OPEN
    assert snapshot.reopens_at is not None
    assert snapshot.reopens_at > datetime.now(UTC)


def _set_timezone(zone: str | None) -> None:
    if zone is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = zone
    time.tzset()


async def test_reopen_time_is_right_when_the_local_zone_is_not_utc(
    client: LiteLLMClient, network: Network
) -> None:
    previous = os.environ.get("TZ")
    # East of UTC: local "now" runs ahead of aiobreaker's naive-UTC timestamps.
    _set_timezone("Asia/Tokyo")
    try:
        before = datetime.now(UTC)
        await _trip(client, network)
        reopens_at = client.breaker.snapshot().reopens_at

        assert reopens_at is not None
        assert before + RESET <= reopens_at <= datetime.now(UTC) + RESET
        await asyncio.sleep(RESET.total_seconds())
        network.mode = "up"
        await client.user_info("u1")
        assert client.breaker.snapshot().state is BreakerState.CLOSED
    finally:
        _set_timezone(previous)
