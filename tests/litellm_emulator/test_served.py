"""The emulator on a real socket: its control API, and `python -m litellm_emulator`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from litellm_emulator import LiteLLMEmulator
from litellm_emulator.server import EmulatorServer

MASTER_KEY = "sk-emulator-master"
MASTER = {"Authorization": f"Bearer {MASTER_KEY}"}
# A complete production configuration: the refusal must come from ENV, not from a missing secret.
PRODUCTION = {
    "ENV": "production",
    "AUTH_MODE": "oidc",
    "SESSION_SECRET": "o3JrWswFC_EF14pNeV02VkYt-sDyP9lhq6NNK6S5pIEez167G4sPWEzBoCRRLXQu",
    "DATABASE_URL": "postgresql://litemaas@127.0.0.1:5432/litemaas",
    "LITELLM_URL": "http://127.0.0.1:4000",
    "LITELLM_MASTER_KEY": "sk-production-master",
    "OIDC_ISSUER": "https://sso.example.com",
    "OIDC_CLIENT_ID": "litemaas",
    "OIDC_CLIENT_SECRET": "oidc-client-secret",
    "PUBLIC_URL": "https://litemaas.example.com",
}


@pytest.fixture
async def emu() -> LiteLLMEmulator:
    return LiteLLMEmulator(master_key=MASTER_KEY, models=["m1", "m2"])


@pytest.fixture
async def http(emu: LiteLLMEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with EmulatorServer(emu) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


async def test_the_control_api_needs_the_master_key(http: httpx.AsyncClient) -> None:
    response = await http.patch("/_emulator/faults", json={"down": True})

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "auth_error"


async def test_down_over_http_hangs_up_until_cleared(
    emu: LiteLLMEmulator, http: httpx.AsyncClient
) -> None:
    switched = await http.patch("/_emulator/faults", json={"down": True}, headers=MASTER)

    with pytest.raises(httpx.TransportError):
        await http.get("/health/liveliness")
    faults = await http.get("/_emulator/faults", headers=MASTER)
    cleared = await http.delete("/_emulator/faults", headers=MASTER)
    alive = await http.get("/health/liveliness")

    assert switched.json() == {"down": True, "latency": 0.0, "error_rate": 0.0}
    assert faults.json()["down"] is True
    assert cleared.json() == {"down": False, "latency": 0.0, "error_rate": 0.0}
    assert alive.status_code == 200
    # Control calls are not LiteLLM traffic, and the refused call never arrived.
    assert emu.requests == [("GET", "/health/liveliness")]


async def test_latency_and_error_rate_over_http(http: httpx.AsyncClient) -> None:
    await http.patch("/_emulator/faults", json={"latency": 0.2, "error_rate": 1}, headers=MASTER)

    started = time.perf_counter()
    response = await http.get("/health/readiness")
    elapsed = time.perf_counter() - started
    refused = await http.patch("/_emulator/faults", json={"error_rate": 2}, headers=MASTER)

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "500"
    assert elapsed >= 0.2
    assert refused.status_code == 422


async def test_models_over_http(http: httpx.AsyncClient) -> None:
    added = await http.post(
        "/_emulator/models",
        json={"model_name": "ollama/llama2", "model_info": {"mode": "chat"}},
        headers=MASTER,
    )
    with_llama = await http.get("/v1/models", headers=MASTER)
    removed = await http.delete("/_emulator/models/ollama/llama2", headers=MASTER)
    removed_again = await http.delete("/_emulator/models/ollama/llama2", headers=MASTER)
    without = await http.get("/v1/models", headers=MASTER)
    received = await http.get("/_emulator/requests", headers=MASTER)

    assert added.status_code == 201
    assert added.json()["model_info"]["mode"] == "chat"
    assert [m["id"] for m in with_llama.json()["data"]] == ["m1", "m2", "ollama/llama2"]
    assert removed.json() == {"removed": "ollama/llama2"}
    assert removed_again.status_code == 404
    assert [m["id"] for m in without.json()["data"]] == ["m1", "m2"]
    assert received.json() == {"requests": [["GET", "/v1/models"], ["GET", "/v1/models"]]}


def _free_port() -> int:
    for port in range(4100, 4200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail("no free port in 4100-4199")


def _emulator_command(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "litellm_emulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "ENV": "development", **(env or {})},
    )


def test_the_command_serves_on_the_given_loopback_port() -> None:
    port = _free_port()
    process = _emulator_command("--port", str(port), "--master-key", "sk-cli-master")
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                alive = httpx.get(f"http://127.0.0.1:{port}/health/liveliness")
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.1)
        models = httpx.get(
            f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": "Bearer sk-cli-master"}
        )
    finally:
        process.terminate()
        process.communicate(timeout=10)

    assert alive.json() == "I'm alive!"
    assert [m["id"] for m in models.json()["data"]] == ["m1", "m2"]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--host", "0.0.0.0"], {}, "127.0.0.1 only"),  # noqa: S104 (the address refused)
        (["--port", "4199"], PRODUCTION, "refused with ENV=production"),
        (["--master-key", "master"], {}, "starts with 'sk-'"),
    ],
)
def test_the_command_refuses(args: list[str], env: dict[str, str], message: str) -> None:
    process = _emulator_command(*args, env=env)
    output, _ = process.communicate(timeout=20)

    assert process.returncode == 2
    assert message in output
