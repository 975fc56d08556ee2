"""A portal user driving the BFF over HTTP, against the emulator or a real LiteLLM proxy."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from pydantic import SecretStr

from app.main import create_app
from app.resources import Resources
from app.settings import Settings
from litellm_emulator import LiteLLMEmulator
from tests.conftest import serve
from tests.portal import Portal

# Real proxies, when the environment names them (CI starts both releases).
REAL_PROXIES = {
    "litellm-1.108.7": ("LITELLM_CONTRACT_URL", "LITELLM_CONTRACT_MASTER_KEY"),
    "litellm-1.80.7": ("LITELLM_CONTRACT_URL_OLD", "LITELLM_CONTRACT_MASTER_KEY_OLD"),
}


@dataclass
class Stack:
    """The BFF wired to one LiteLLM, and a way to call that LiteLLM as an API-key holder would."""

    name: str
    portal: Portal
    resources: Resources
    litellm: httpx.AsyncClient  # no credentials: each call brings its key
    emulator: LiteLLMEmulator | None

    async def chat(self, secret: str, model: str) -> httpx.Response:
        return await self.litellm.post(
            "/chat/completions",
            headers={"Authorization": f"Bearer {secret}"},
            json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        )


@pytest.fixture(params=["emulator", *REAL_PROXIES])
async def stack(
    request: pytest.FixtureRequest, settings: Settings, emulator: LiteLLMEmulator
) -> AsyncIterator[Stack]:
    """The BFF against the emulator, and against each real proxy the environment names."""
    name: str = request.param
    if name == "emulator":
        transport = httpx.ASGITransport(app=emulator.app)
        app = create_app(settings, litellm_transport=transport)
        proxy = httpx.AsyncClient(transport=transport, base_url="http://litellm-emulator.test")
        real_emulator: LiteLLMEmulator | None = emulator
    else:
        url_var, key_var = REAL_PROXIES[name]
        url = os.environ.get(url_var)
        if not url:
            pytest.skip(f"{url_var} is not set: no real LiteLLM proxy to run against")
        master_key = os.environ.get(key_var, "sk-peer-master")
        app = create_app(
            settings.model_copy(
                update={"litellm_url": url, "litellm_master_key": SecretStr(master_key)}
            )
        )
        proxy = httpx.AsyncClient(base_url=url, timeout=30)
        real_emulator = None
    async with serve(app) as client, proxy:
        yield Stack(name, Portal(client), app.state.resources, proxy, real_emulator)


def assert_model_refused(response: httpx.Response) -> None:
    """LiteLLM refused a model the key lacks: 403 (1.108.7) or 401 (1.80.7), same error type."""
    assert response.status_code in (401, 403), response.text
    assert response.json()["error"]["type"] == "key_model_access_denied"


def assert_key_refused(response: httpx.Response) -> None:
    """LiteLLM refused a deleted or unknown key."""
    assert response.status_code == 401, response.text
