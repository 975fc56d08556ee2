"""The BFF's client meeting the emulator's faults: each one reads as LITELLM_UNAVAILABLE."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from app.litellm.breaker import CircuitBreaker
from app.litellm.client import LiteLLMClient
from app.litellm.errors import LiteLLMUnavailable
from app.litellm.monitor import LiteLLMMonitor
from app.metrics import Metrics
from litellm_emulator import LiteLLMEmulator
from litellm_emulator.server import EmulatorServer

MASTER_KEY = "sk-emulator-master"


def _client(http: httpx.AsyncClient) -> LiteLLMClient:
    breaker = CircuitBreaker(name="litellm", fail_max=5, reset_timeout=timedelta(seconds=30))
    return LiteLLMClient(http=http, breaker=breaker, monitor=LiteLLMMonitor(), metrics=Metrics())


async def test_down_in_process_is_unavailable_and_nothing_arrives() -> None:
    emu = LiteLLMEmulator(master_key=MASTER_KEY)
    emu.faults.down = True
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app),
        base_url="http://litellm",
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
    ) as http:
        with pytest.raises(LiteLLMUnavailable) as unavailable:
            await _client(http).user_info("u1")

    assert unavailable.value.status is None
    assert unavailable.value.reached is False
    assert isinstance(unavailable.value.__cause__, httpx.ConnectError)
    assert emu.requests == []


async def test_a_500_is_unavailable() -> None:
    emu = LiteLLMEmulator(master_key=MASTER_KEY)
    emu.faults.error_rate = 1.0
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app),
        base_url="http://litellm",
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
    ) as http:
        with pytest.raises(LiteLLMUnavailable) as unavailable:
            await _client(http).model_info()

    assert unavailable.value.status == 500
    assert unavailable.value.reached is True
    assert emu.requests == [("GET", "/model/info")]


@pytest.mark.parametrize("fault", ["down", "latency"])
async def test_over_a_socket_down_and_slow_are_unavailable(fault: str) -> None:
    emu = LiteLLMEmulator(master_key=MASTER_KEY)
    async with (
        EmulatorServer(emu) as url,
        httpx.AsyncClient(
            base_url=url,
            headers={"Authorization": f"Bearer {MASTER_KEY}"},
            timeout=httpx.Timeout(0.3),
        ) as http,
    ):
        client = _client(http)
        await client.readiness()
        if fault == "down":
            emu.faults.down = True
        else:
            emu.faults.latency = 1.0

        with pytest.raises(LiteLLMUnavailable):
            await client.readiness()
        emu.faults.clear()
        await client.readiness()
