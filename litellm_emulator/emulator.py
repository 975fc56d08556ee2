"""LiteLLMEmulator: one object holding the emulated proxy's state, faults and ASGI app."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from litellm_emulator import control, proxy
from litellm_emulator.faults import FaultInjection, Faults
from litellm_emulator.records import DeletedKey, Model, User, VirtualKey
from litellm_emulator.store import ProxyStore


class LiteLLMEmulator:
    """An in-memory LiteLLM proxy answering the BFF's calls as LiteLLM 1.108.7 does."""

    def __init__(
        self, master_key: str = "sk-emulator-master", models: Iterable[str] = ("m1", "m2")
    ) -> None:
        if not master_key.startswith("sk-"):
            # LiteLLM refuses to start with such a master key.
            raise ValueError("a LiteLLM master key starts with 'sk-'")
        self.master_key = master_key
        self.faults = Faults()
        self.requests: list[tuple[str, str]] = []
        self._store = ProxyStore()
        for name in models:
            self.add_model(name)
        self.app: ASGIApp = FaultInjection(self._build_app(), self)

    @property
    def users(self) -> Mapping[str, User]:
        return MappingProxyType(self._store.users)

    @property
    def keys(self) -> Mapping[str, VirtualKey]:
        """Live virtual keys by token (the sha256 of the secret)."""
        return MappingProxyType(self._store.keys)

    @property
    def deleted_keys(self) -> Mapping[str, DeletedKey]:
        return MappingProxyType(self._store.deleted_keys)

    @property
    def models(self) -> Mapping[str, Model]:
        return MappingProxyType(self._store.models)

    def add_model(self, model_name: str, model_info: Mapping[str, Any] | None = None) -> Model:
        """Serve `model_name` (replacing a deployment of that name); `model_info` overrides the
        defaults /model/info shows (max_tokens, input_cost_per_token, supports_vision, mode...).
        """
        return self._store.add_model(model_name, model_info)

    def remove_model(self, model_name: str) -> None:
        del self._store.models[model_name]

    def _build_app(self) -> Starlette:
        app = Starlette(
            routes=[*proxy.routes, *control.routes],
            exception_handlers={HTTPException: _fastapi_http_error},
        )
        app.state.store = self._store
        app.state.master_key = self.master_key
        app.state.observed = self
        return app


async def _fastapi_http_error(_request: Request, exc: Exception) -> Response:
    # Unknown routes and wrong methods: FastAPI's `{"detail": "Not Found"}`, as LiteLLM.
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
