"""The model catalogue follows LiteLLM; health shows LiteLLM up, down and back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
from starlette.applications import Starlette

from app.litellm.errors import LiteLLMUnavailable
from app.main import create_app
from app.resources import Resources
from app.services import catalog, health
from app.settings import Settings
from litellm_emulator import LiteLLMEmulator
from tests import documents
from tests.conftest import serve
from tests.portal import Portal

RESET_SECONDS = 0.3
CHECKED_LITELLM_FIELDS = (
    "status",
    "latencyMs",
    "lastSync",
    "circuitBreaker",
    "consecutiveFailures",
)


async def _catalogue(portal: Portal, *, include_unavailable: bool = False) -> dict[str, bool]:
    models = (await portal.data(documents.MODELS, includeUnavailable=include_unavailable))["models"]
    return {m["id"]: m["available"] for m in models}


async def test_catalogue_is_synced_at_start(portal: Portal) -> None:
    assert await _catalogue(portal) == {"m1": True, "m2": True}


async def test_added_and_removed_models_appear_and_become_unavailable(
    portal: Portal, emulator: LiteLLMEmulator, resources: Resources
) -> None:
    emulator.add_model("ollama/llama2")
    emulator.remove_model("m2")

    result = await catalog.sync_models(
        models=resources.catalogue, litellm=resources.litellm, valve=resources.valve
    )

    assert (result.added, result.unavailable) == (1, 1)
    assert await _catalogue(portal) == {"m1": True, "ollama/llama2": True}
    assert await _catalogue(portal, include_unavailable=True) == {
        "m1": True,
        "m2": False,
        "ollama/llama2": True,
    }
    gone = (await portal.data(documents.MODEL, id="m2"))["model"]
    assert (gone["id"], gone["available"]) == ("m2", False)

    emulator.add_model("m2")  # back again
    await catalog.sync_models(
        models=resources.catalogue, litellm=resources.litellm, valve=resources.valve
    )
    assert await _catalogue(portal) == {"m1": True, "m2": True, "ollama/llama2": True}


async def test_litellm_down_serves_the_last_catalogue(
    portal: Portal, emulator: LiteLLMEmulator, resources: Resources
) -> None:
    emulator.faults.down = True

    with pytest.raises(LiteLLMUnavailable):
        await catalog.sync_models(
            models=resources.catalogue, litellm=resources.litellm, valve=resources.valve
        )

    assert await _catalogue(portal) == {"m1": True, "m2": True}


@pytest.fixture
def app(settings: Settings, emulator: LiteLLMEmulator) -> Starlette:
    quick = settings.model_copy(
        update={"litellm_breaker_fail_max": 3, "litellm_breaker_reset_seconds": RESET_SECONDS}
    )
    return create_app(quick, litellm_transport=httpx.ASGITransport(app=emulator.app))


@pytest.fixture
async def watcher(app: Starlette) -> AsyncIterator[Portal]:
    async with serve(app) as client:
        yield Portal(client)


async def _litellm_health(portal: Portal) -> dict[str, object]:
    result: dict[str, object] = (await portal.data(documents.HEALTH))["health"]
    return result


async def test_health_follows_litellm_up_down_and_back(
    watcher: Portal, emulator: LiteLLMEmulator, app: Starlette
) -> None:
    resources: Resources = app.state.resources

    up = await _litellm_health(watcher)
    assert up["status"] == "OK"
    litellm = up["litellm"]
    assert isinstance(litellm, dict)
    assert (litellm["status"], litellm["circuitBreaker"], litellm["consecutiveFailures"]) == (
        "OK",
        "CLOSED",
        0,
    )
    assert litellm["latencyMs"] is not None
    assert litellm["latencyMs"] >= 0
    synced_at = datetime.fromisoformat(litellm["lastSync"])

    emulator.faults.down = True
    await health.probe_litellm(litellm=resources.litellm, metrics=resources.metrics)
    down_closed = await _litellm_health(watcher)
    assert down_closed["status"] == "DEGRADED"  # the database is fine; LiteLLM is not
    down_litellm = down_closed["litellm"]
    assert isinstance(down_litellm, dict)
    assert {key: down_litellm[key] for key in CHECKED_LITELLM_FIELDS} == {
        "status": "DOWN",
        "latencyMs": None,
        "lastSync": litellm["lastSync"],
        "circuitBreaker": "CLOSED",
        "consecutiveFailures": 1,
    }
    for _ in range(2):
        await health.probe_litellm(litellm=resources.litellm, metrics=resources.metrics)
    opened = (await _litellm_health(watcher))["litellm"]
    assert isinstance(opened, dict)
    assert (opened["circuitBreaker"], opened["consecutiveFailures"]) == ("OPEN", 3)

    emulator.faults.clear()
    await asyncio.sleep(RESET_SECONDS)
    emulator.faults.latency = 0.2
    probe = asyncio.create_task(
        health.probe_litellm(litellm=resources.litellm, metrics=resources.metrics)
    )
    async with asyncio.timeout(2):  # until the probe is in flight
        while resources.litellm.breaker.snapshot().state.name != "HALF_OPEN":  # noqa: ASYNC110
            await asyncio.sleep(0.005)
    half_open = (await _litellm_health(watcher))["litellm"]
    assert isinstance(half_open, dict)
    assert half_open["circuitBreaker"] == "HALF_OPEN"
    await probe

    back = await _litellm_health(watcher)
    assert back["status"] == "OK"
    back_litellm = back["litellm"]
    assert isinstance(back_litellm, dict)
    assert (back_litellm["status"], back_litellm["circuitBreaker"]) == ("OK", "CLOSED")
    assert back_litellm["latencyMs"] >= 200
    assert datetime.fromisoformat(back_litellm["lastSync"]) > synced_at


async def test_open_breaker_makes_mutations_fail_fast_as_unavailable(
    watcher: Portal, emulator: LiteLLMEmulator, app: Starlette
) -> None:
    resources: Resources = app.state.resources
    await watcher.login()
    emulator.faults.down = True
    for _ in range(3):
        await health.probe_litellm(litellm=resources.litellm, metrics=resources.metrics)
    assert resources.litellm.breaker.snapshot().state.name == "OPEN"
    emulator.faults.clear()  # LiteLLM is back, but the breaker has not probed yet
    received = len(emulator.requests)

    result = await watcher.subscribe("m1")

    assert (result["__typename"], result["code"]) == (
        "LitellmUnavailableError",
        "LITELLM_UNAVAILABLE",
    )
    assert len(emulator.requests) == received
