"""Faults the emulator can be told to show: an unreachable proxy, a slow one, a failing one."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Protocol

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from litellm_emulator.answers import litellm_error

CONTROL_PREFIX = "/_emulator/"


@dataclass
class Faults:
    down: bool = False
    latency: float = 0.0
    error_rate: float = 0.0
    _random: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def clear(self) -> None:
        self.down = False
        self.latency = 0.0
        self.error_rate = 0.0

    def fails_now(self) -> bool:
        return self.error_rate > 0 and self._random.random() < self.error_rate


class Observed(Protocol):
    """What the wrapper reads on every request, so reassigning either attribute takes effect."""

    faults: Faults
    requests: list[tuple[str, str]]


class FaultInjection:
    """ASGI wrapper: applies the faults to every LiteLLM route and records what was received.

    The control API under `/_emulator/` passes untouched, so a "down" emulator can be revived.
    """

    def __init__(self, app: ASGIApp, observed: Observed) -> None:
        self._app = app
        self._observed = observed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self._app(scope, receive, send)
            return
        faults = self._observed.faults
        if faults.down:
            # httpx.ASGITransport hands this to the client as is: a refused connection.
            raise httpx.ConnectError("All connection attempts failed")
        self._observed.requests.append((scope["method"], scope["path"]))
        if faults.latency > 0:
            await asyncio.sleep(faults.latency)
        if faults.fails_now():
            response: ASGIApp = litellm_error(500, "Internal Server Error", "internal_server_error")
            await response(scope, receive, send)
            return
        await self._app(scope, receive, send)
