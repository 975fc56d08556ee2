"""The emulator's fault switches, driven in-process as the BFF's tests will use them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from litellm_emulator import LiteLLMEmulator

MASTER = {"Authorization": "Bearer sk-emulator-master"}


@pytest.fixture
def emu() -> LiteLLMEmulator:
    return LiteLLMEmulator(master_key="sk-emulator-master", models=["m1", "m2"])


@pytest.fixture
async def http(emu: LiteLLMEmulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=emu.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://litellm") as client:
        yield client


async def test_down_refuses_every_request_as_a_connection_error(
    emu: LiteLLMEmulator, http: httpx.AsyncClient
) -> None:
    emu.faults.down = True

    with pytest.raises(httpx.ConnectError) as refused:
        await http.get("/health/liveliness")
    with pytest.raises(httpx.ConnectError):
        await http.post("/user/new", json={"user_id": "u1"}, headers=MASTER)

    assert refused.value.request.url.path == "/health/liveliness"
    assert emu.requests == []
    assert emu.users == {}


async def test_a_cleared_emulator_answers_again(
    emu: LiteLLMEmulator, http: httpx.AsyncClient
) -> None:
    emu.faults.down = True
    emu.faults.latency = 5
    emu.faults.error_rate = 1.0

    emu.faults.clear()
    response = await http.get("/health/liveliness")

    assert response.status_code == 200
    assert (emu.faults.down, emu.faults.latency, emu.faults.error_rate) == (False, 0.0, 0.0)
    assert emu.requests == [("GET", "/health/liveliness")]


async def test_latency_delays_every_answer(emu: LiteLLMEmulator, http: httpx.AsyncClient) -> None:
    emu.faults.latency = 0.2

    started = time.perf_counter()
    response = await http.get("/v1/models", headers=MASTER)
    delayed = time.perf_counter() - started
    emu.faults.latency = 0
    started = time.perf_counter()
    await http.get("/v1/models", headers=MASTER)
    prompt = time.perf_counter() - started

    assert response.status_code == 200
    assert delayed >= 0.2
    assert prompt < 0.2


async def test_an_error_rate_of_one_fails_every_answer_with_litellms_500(
    emu: LiteLLMEmulator, http: httpx.AsyncClient
) -> None:
    emu.faults.error_rate = 1.0

    created = await http.post("/user/new", json={"user_id": "u1"}, headers=MASTER)
    alive = await http.get("/health/liveliness")

    for response in (created, alive):
        assert response.status_code == 500
        assert response.json() == {
            "error": {
                "message": "Internal Server Error",
                "type": "internal_server_error",
                "param": None,
                "code": "500",
            }
        }
    # The request arrived (it is recorded) but changed nothing.
    assert emu.requests == [("POST", "/user/new"), ("GET", "/health/liveliness")]
    assert emu.users == {}


async def test_an_error_rate_fails_about_that_fraction(
    emu: LiteLLMEmulator, http: httpx.AsyncClient
) -> None:
    emu.faults.error_rate = 0.5

    statuses = [(await http.get("/health/readiness")).status_code for _ in range(400)]

    assert set(statuses) == {200, 500}
    # Binomial(400, 0.5): 200 +- 10 is one standard deviation; this bound is 6.
    assert 140 <= statuses.count(500) <= 260


async def test_models_added_and_removed_show_at_once(
    emu: LiteLLMEmulator, http: httpx.AsyncClient
) -> None:
    emu.add_model("ollama/llama2", model_info={"max_tokens": 4096, "supports_vision": True})
    emu.remove_model("m2")

    listed = await http.get("/v1/models", headers=MASTER)
    info = await http.get("/model/info", headers=MASTER)
    removed = await http.post(
        "/chat/completions", json={"model": "m2", "messages": []}, headers=MASTER
    )

    assert [m["id"] for m in listed.json()["data"]] == ["m1", "ollama/llama2"]
    llama = info.json()["data"][1]
    assert llama["litellm_params"]["model"] == "ollama/llama2"
    assert llama["model_info"]["max_tokens"] == 4096
    assert llama["model_info"]["supports_vision"] is True
    assert llama["model_info"]["litellm_provider"] == "ollama"
    assert removed.status_code == 400
    assert removed.json()["error"]["type"] == "invalid_request_error"


async def test_state_views_are_read_only_and_keys_are_indexed_by_token(
    emu: LiteLLMEmulator, http: httpx.AsyncClient
) -> None:
    await http.post("/user/new", json={"user_id": "u1", "auto_create_key": False}, headers=MASTER)
    generated = (
        await http.post("/key/generate", json={"user_id": "u1", "models": ["m1"]}, headers=MASTER)
    ).json()

    assert emu.users["u1"].user_id == "u1"
    assert emu.keys[generated["token"]].models == ("m1",)
    assert generated["key"] not in emu.keys
    with pytest.raises(TypeError):
        emu.keys[generated["token"]] = emu.keys[generated["token"]]  # type: ignore[index]
    await http.post("/key/delete", json={"keys": [generated["key"]]}, headers=MASTER)
    assert generated["token"] in emu.deleted_keys
    assert emu.keys == {}


def test_a_master_key_must_look_like_litellms() -> None:
    with pytest.raises(ValueError, match="starts with 'sk-'"):
        LiteLLMEmulator(master_key="master")
