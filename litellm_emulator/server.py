"""Serving the emulator with uvicorn on 127.0.0.1, from a test's event loop or the command line."""

from __future__ import annotations

import asyncio
from types import TracebackType

import httpx
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from litellm_emulator.emulator import LiteLLMEmulator

LOOPBACK = "127.0.0.1"


def served_app(emulator: LiteLLMEmulator) -> ASGIApp:
    """The emulator's app for a real socket, where "down" hangs up instead of refusing.

    A listening server cannot refuse one connection and keep serving the control API; closing
    the connection without an answer is the nearest it gets (clients see a transport error).
    """

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await emulator.app(scope, receive, send)
        except httpx.ConnectError:
            # A started response left incomplete makes uvicorn close the connection (logging
            # one line, not a traceback): the client never gets a complete answer.
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [(b"content-length", b"1")],
                }
            )

    return app


def uvicorn_config(emulator: LiteLLMEmulator, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        served_app(emulator),
        host=LOOPBACK,
        port=port,
        lifespan="off",
        ws="none",
        log_level=log_level,
        access_log=False,
    )


class EmulatorServer:
    """`async with EmulatorServer(emulator) as url:` serves it on a free loopback port."""

    def __init__(self, emulator: LiteLLMEmulator, port: int = 0) -> None:
        config = uvicorn_config(emulator, port, log_level="warning")
        config.load()
        self._server = uvicorn.Server(config)
        # Server.serve() would take over the test process's signal handlers; drive its steps.
        self._server.lifespan = config.lifespan_class(config)
        self._main_loop: asyncio.Task[None] | None = None

    async def __aenter__(self) -> str:
        await self._server.startup()
        if not self._server.started:
            raise RuntimeError("the LiteLLM emulator could not listen on 127.0.0.1")
        self._main_loop = asyncio.create_task(self._server.main_loop())
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://{LOOPBACK}:{port}"

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        if self._main_loop is not None:
            await self._main_loop
        await self._server.shutdown()
