"""Health probes and master-key authentication."""

from __future__ import annotations

import pytest

from tests.contract.conftest import Proxy, bearer, litellm_error

pytestmark = pytest.mark.contract


async def test_liveliness_needs_no_key(proxy: Proxy) -> None:
    response = await proxy.http.get("/health/liveliness")

    assert response.status_code == 200
    assert "alive" in response.text
    if proxy.current:
        assert response.json() == "I'm alive!"


async def test_readiness_reports_the_database_connected(proxy: Proxy) -> None:
    response = await proxy.http.get("/health/readiness")

    assert response.status_code == 200
    assert response.json()["db"] == "connected"
    # Only `db` is common: `status` is "healthy" in 1.108.7 and "connected" in 1.80.7.
    assert response.json()["status"] == ("healthy" if proxy.current else "connected")


async def test_a_missing_key_is_401_auth_error(proxy: Proxy) -> None:
    response = await proxy.http.get("/user/info", params={"user_id": "anyone"})

    assert response.status_code == 401
    assert litellm_error(response) == {
        "message": "Authentication Error, No api key passed in.",
        "type": "auth_error",
        "param": "None",
        "code": "401",
    }


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/user/info?user_id=anyone"), ("POST", "/key/generate")]
)
async def test_a_wrong_master_key_is_401_token_not_found(
    proxy: Proxy, method: str, path: str
) -> None:
    response = await proxy.http.request(
        method, path, json={"models": ["m1"]}, headers=bearer("sk-not-the-master-key")
    )

    assert response.status_code == 401
    error = litellm_error(response)
    assert error["type"] == "token_not_found_in_db"
    assert error["param"] == "key"
    if proxy.current:
        assert error["message"] == "Authentication Error, Invalid API key provided."
    else:
        # 1.80.7 puts the key's hash in the message: never show LiteLLM's messages to users.
        assert "Unable to find token" in error["message"]


async def test_a_virtual_key_cannot_manage_users_or_keys(proxy: Proxy) -> None:
    generated = await proxy.key_generate(models=["m1"])

    for path, body in (
        ("/user/new", {"user_id": proxy.new_user_id()}),
        ("/key/generate", {"models": ["m2"]}),
    ):
        response = await proxy.http.post(path, json=body, headers=bearer(generated["key"]))

        assert response.status_code == 401, path
        error = litellm_error(response)
        assert error["type"] == "auth_error"
        assert "Only proxy admin" in error["message"]
