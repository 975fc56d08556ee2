"""The BFF wired to the emulator through a wire that can fail one kind of request, and a
signed-in portal user subscribed to `m1` and `m2`: the fixtures of the fault tests.

A test module takes them by importing the `*_fixture` functions, which pytest knows by the
names `network`, `app` and `portal` (a conftest would give every workflow test this `app`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from litellm_emulator import LiteLLMEmulator
from tests.conftest import serve
from tests.portal import Portal


class FaultyNetwork(httpx.AsyncBaseTransport):
    """The wire between the BFF and LiteLLM, which can fail one kind of request."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.fail_path: str | None = None
        self.fault: Callable[[httpx.Request], Awaitable[httpx.Response]] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.fault is not None and request.url.path == self.fail_path:
            return await self.fault(request)
        return await self.inner.handle_async_request(request)


@pytest.fixture(name="network")
def network_fixture(emulator: LiteLLMEmulator) -> FaultyNetwork:
    return FaultyNetwork(httpx.ASGITransport(app=emulator.app))


@pytest.fixture(name="app")
def app_fixture(settings: Settings, network: FaultyNetwork) -> Starlette:
    return create_app(settings, litellm_transport=network)


@pytest.fixture(name="portal")
async def portal_fixture(app: Starlette) -> AsyncIterator[Portal]:
    async with serve(app) as client:
        portal = Portal(client)
        await portal.login()
        await portal.subscribe("m1")
        await portal.subscribe("m2")
        yield portal
