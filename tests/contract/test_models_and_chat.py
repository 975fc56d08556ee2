"""/model/info, /v1/models and /models, and chat: the proxy enforcing each key's models."""

from __future__ import annotations

import asyncio

import pytest

from tests.contract.conftest import MODEL_COSTS, MODELS, Proxy, bearer, litellm_error

pytestmark = pytest.mark.contract

CHAT_PATHS = ["/chat/completions", "/v1/chat/completions"]


def assert_denied(proxy: Proxy, response_status: int, error: dict[str, object], model: str) -> None:
    # Read error.type: the status is 403 in 1.108.7 and 401 in 1.80.7.
    assert error["type"] == "key_model_access_denied"
    assert error["param"] == "model"
    assert response_status == (403 if proxy.current else 401)
    if proxy.current:
        assert error["message"] == (
            f"The requested model '{model}' is not available for this API key, or the model "
            "name is invalid. Check the models available to you and try again."
        )


async def listed_models(proxy: Proxy, key: str, path: str = "/v1/models") -> list[str]:
    response = await proxy.http.get(path, headers=bearer(key))
    assert response.status_code == 200, response.text
    assert response.json()["object"] == "list"
    return [m["id"] for m in response.json()["data"]]


async def test_model_info_describes_every_deployment(proxy: Proxy) -> None:
    response = await proxy.http.get("/model/info", headers=proxy.master)

    assert response.status_code == 200
    deployments = {d["model_name"]: d for d in response.json()["data"]}
    assert set(deployments) == set(MODELS)
    for name, deployment in deployments.items():
        assert deployment["litellm_params"]["model"] == f"openai/{name}"
        assert "api_key" not in deployment["litellm_params"]
        info = deployment["model_info"]
        assert info["id"]
        for field in (
            "max_tokens",
            "input_cost_per_token",
            "output_cost_per_token",
            "supports_vision",
            "supports_function_calling",
            "mode",
        ):
            assert field in info, field
        # litellm-config.yaml's price; a proxy run without it: null in 1.108.7, 0 in 1.80.7.
        assert info["input_cost_per_token"] in (
            MODEL_COSTS["input_cost_per_token"],
            None if proxy.current else 0,
        )


async def test_model_info_with_a_virtual_key_shows_its_models(proxy: Proxy) -> None:
    generated = await proxy.key_generate(models=["m1"])

    response = await proxy.http.get("/model/info", headers=bearer(generated["key"]))

    assert [d["model_name"] for d in response.json()["data"]] == ["m1"]


@pytest.mark.parametrize("path", ["/v1/models", "/models"])
async def test_the_master_key_lists_every_model(proxy: Proxy, path: str) -> None:
    assert await listed_models(proxy, proxy.target.master_key, path) == list(MODELS)


async def test_a_virtual_key_lists_only_its_models(proxy: Proxy) -> None:
    restricted = await proxy.key_generate(models=["m1"])
    unrestricted = await proxy.key_generate(models=[])

    assert await listed_models(proxy, restricted["key"]) == ["m1"]
    response = await proxy.http.get("/v1/models", headers=bearer(restricted["key"]))
    assert response.json()["data"] == [
        {"id": "m1", "object": "model", "created": 1677610602, "owned_by": "openai"}
    ]
    # An empty list means every model, as in LiteLLM.
    assert await listed_models(proxy, unrestricted["key"]) == list(MODELS)


@pytest.mark.parametrize("path", CHAT_PATHS)
async def test_chat_with_an_allowed_model_answers(proxy: Proxy, path: str) -> None:
    generated = await proxy.key_generate(models=["m1"])

    response = await proxy.chat(generated["key"], "m1", path)

    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "m1"
    assert body["id"].startswith("chatcmpl-")
    assert body["choices"][0]["message"] == {
        "content": "Hello from mock model m1",
        "role": "assistant",
    }
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"completion_tokens": 20, "prompt_tokens": 10, "total_tokens": 30}


@pytest.mark.parametrize("path", CHAT_PATHS)
@pytest.mark.parametrize("model", ["m2", "no-such-model"])
async def test_chat_with_a_model_not_on_the_key_is_denied(
    proxy: Proxy, path: str, model: str
) -> None:
    generated = await proxy.key_generate(models=["m1"])

    response = await proxy.chat(generated["key"], model, path)

    assert_denied(proxy, response.status_code, litellm_error(response), model)


async def test_a_key_with_no_models_may_call_every_model(proxy: Proxy) -> None:
    generated = await proxy.key_generate(models=[])

    for model in MODELS:
        assert (await proxy.chat(generated["key"], model)).status_code == 200, model


async def test_the_master_key_may_call_any_model(proxy: Proxy) -> None:
    for model in MODELS:
        assert (await proxy.chat(proxy.target.master_key, model)).status_code == 200, model


async def test_an_unknown_model_on_an_unrestricted_key_is_400(proxy: Proxy) -> None:
    response = await proxy.chat(proxy.target.master_key, "no-such-model")

    assert response.status_code == 400
    assert "Invalid model name passed in model=no-such-model" in litellm_error(response)["message"]


async def test_key_update_models_is_enforced_at_once(proxy: Proxy) -> None:
    generated = await proxy.key_generate(models=["m1"])
    key = generated["key"]

    widened = await proxy.http.post(
        "/key/update", json={"key": key, "models": ["m1", "m2"]}, headers=proxy.master
    )
    assert widened.status_code == 200
    assert (await proxy.chat(key, "m2")).status_code == 200
    assert await listed_models(proxy, key) == ["m1", "m2"]

    # What cancelling a subscription does: the model leaves the key, the proxy refuses it.
    narrowed = await proxy.http.post(
        "/key/update", json={"key": generated["token"], "models": ["m1"]}, headers=proxy.master
    )
    assert narrowed.status_code == 200
    denied = await proxy.chat(key, "m2")
    assert_denied(proxy, denied.status_code, litellm_error(denied), "m2")
    assert await listed_models(proxy, key) == ["m1"]
    assert (await proxy.chat(key, "m1")).status_code == 200


async def test_an_unknown_key_is_401_token_not_found(proxy: Proxy) -> None:
    response = await proxy.chat("sk-contract-no-such-key", "m1")

    assert response.status_code == 401
    error = litellm_error(response)
    assert (error["type"], error["param"]) == ("token_not_found_in_db", "key")


async def test_an_expired_key_is_refused(proxy: Proxy) -> None:
    generated = await proxy.key_generate(models=["m1"], duration="1s")
    await asyncio.sleep(2.1)

    response = await proxy.chat(generated["key"], "m1")

    error = litellm_error(response)
    assert error["type"] == "expired_key"
    assert response.status_code == (401 if proxy.current else 400)
    assert error["message"].startswith("Authentication Error - Expired Key.")


async def test_a_key_over_budget_is_refused(proxy: Proxy) -> None:
    generated = await proxy.key_generate(models=["m1"], max_budget=0)

    response = await proxy.chat(generated["key"], "m1")

    error = litellm_error(response)
    assert error["type"] == "budget_exceeded"
    assert response.status_code == (422 if proxy.current else 400)
    assert "Budget has been exceeded!" in error["message"]
