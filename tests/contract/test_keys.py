"""/key/generate, /key/info, /key/update, /key/list and /key/delete."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.contract.conftest import Proxy, bearer, litellm_error

pytestmark = pytest.mark.contract


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def key_info(proxy: Proxy, key: str) -> httpx.Response:
    return await proxy.http.get("/key/info", params={"key": key}, headers=proxy.master)


async def test_key_generate_returns_the_secret_once_with_its_sha256_token(proxy: Proxy) -> None:
    created = await proxy.user_new()
    alias = f"alias-{created['user_id']}"
    before = datetime.now(UTC)

    generated = await proxy.key_generate(
        user_id=created["user_id"],
        models=["m1"],
        key_alias=alias,
        max_budget=5,
        tpm_limit=1000,
        rpm_limit=60,
        duration="1h",
        budget_duration="30d",
        metadata={"purpose": "contract"},
    )

    secret = generated["key"]
    assert secret.startswith("sk-")
    assert generated["token"] == hashlib.sha256(secret.encode()).hexdigest()
    assert generated["token_id"] == generated["token"]
    assert generated["key_name"] == "sk-..." + secret[-4:]
    assert generated["key_alias"] == alias
    assert generated["user_id"] == created["user_id"]
    assert generated["models"] == ["m1"]
    assert generated["max_budget"] == 5.0
    assert (generated["tpm_limit"], generated["rpm_limit"]) == (1000, 60)
    assert generated["budget_duration"] == "30d"
    assert generated["metadata"] == {"purpose": "contract"}
    assert generated["duration"] is None
    expires = parse_time(generated["expires"])
    # 1.80.7 rounds up to a calendar boundary, which may be sooner than now + 1 h.
    assert before < expires <= datetime.now(UTC) + timedelta(hours=1)
    if proxy.current:
        assert expires >= before + timedelta(hours=1) - timedelta(seconds=1)


async def test_key_generate_without_duration_never_expires(proxy: Proxy) -> None:
    generated = await proxy.key_generate(models=["m1"])

    assert generated["expires"] is None


async def test_a_duplicate_key_alias_is_400_bad_request(proxy: Proxy) -> None:
    alias = f"alias-{proxy.new_user_id()}"
    first = await proxy.key_generate(models=["m1"], key_alias=alias)

    response = await proxy.http.post(
        "/key/generate",
        json={"user_id": first["user_id"], "models": ["m1"], "key_alias": alias},
        headers=proxy.master,
    )

    assert response.status_code == 400
    assert litellm_error(response) == {
        "message": f"Key with alias '{alias}' already exists. "
        "Unique key aliases across all keys are required.",
        "type": "bad_request_error",
        "param": "key_alias",
        "code": "400",
    }


@pytest.mark.parametrize("by", ["secret", "token"])
async def test_key_info_describes_the_key_nested(proxy: Proxy, by: str) -> None:
    alias = f"alias-{proxy.new_user_id()}"
    generated = await proxy.key_generate(
        models=["m1"],
        key_alias=alias,
        max_budget=5,
        tpm_limit=1000,
        rpm_limit=60,
        metadata={"purpose": "contract"},
    )
    asked = generated["key"] if by == "secret" else generated["token"]

    response = await key_info(proxy, asked)

    assert response.status_code == 200
    body = response.json()
    assert body["key"] == asked
    info = body["info"]
    assert "token" not in info
    assert info["key_name"] == generated["key_name"]
    assert info["key_alias"] == alias
    assert info["user_id"] == generated["user_id"]
    assert info["models"] == ["m1"]
    assert info["metadata"] == {"purpose": "contract"}
    assert (info["max_budget"], info["tpm_limit"], info["rpm_limit"]) == (5.0, 1000, 60)
    assert info["expires"] is None
    if proxy.current:
        assert info["status"] == "active"
    else:
        assert "status" not in info


async def test_key_info_with_the_key_itself_names_it_by_token(proxy: Proxy) -> None:
    generated = await proxy.key_generate(models=["m1"])

    response = await proxy.http.get("/key/info", headers=bearer(generated["key"]))

    assert response.status_code == 200
    assert response.json()["key"] == generated["token"]
    assert response.json()["info"]["models"] == ["m1"]


async def test_key_info_of_an_unknown_key_is_404_not_found(proxy: Proxy) -> None:
    response = await key_info(proxy, "sk-contract-no-such-key")

    assert response.status_code == 404
    error = litellm_error(response)
    assert (error["type"], error["param"]) == ("not_found_error", "key")
    assert error["message"] == "Key not found in database"


@pytest.mark.parametrize("by", ["secret", "token"])
async def test_key_update_changes_the_key_at_once(proxy: Proxy, by: str) -> None:
    generated = await proxy.key_generate(models=["m1"], max_budget=5)
    asked = generated["key"] if by == "secret" else generated["token"]

    response = await proxy.http.post(
        "/key/update",
        json={"key": asked, "models": ["m1", "m2"], "max_budget": 7, "metadata": {"v": 2}},
        headers=proxy.master,
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["key"], body["token"]) == (asked, generated["token"])
    assert body["models"] == ["m1", "m2"]
    assert body["max_budget"] == 7.0
    assert body["metadata"] == {"v": 2}
    info = (await key_info(proxy, generated["token"])).json()["info"]
    assert info["models"] == ["m1", "m2"]


async def test_key_update_of_an_unknown_key_is_refused(proxy: Proxy) -> None:
    response = await proxy.http.post(
        "/key/update",
        json={"key": "sk-contract-no-such-key", "models": ["m1"]},
        headers=proxy.master,
    )

    error = litellm_error(response)
    if proxy.current:
        assert response.status_code == 404
        assert error == {
            "message": "Key not found.",
            "type": "not_found_error",
            "param": "key",
            "code": "404",
        }
    else:
        # 1.80.7 answers as if the caller were not authenticated.
        assert response.status_code == 401
        assert error["type"] == "auth_error"
        assert "user key does not exist in db" in error["message"]


async def test_key_list_gives_a_users_tokens_or_full_objects(proxy: Proxy) -> None:
    created = await proxy.user_new()
    user_id = created["user_id"]
    first = await proxy.key_generate(user_id=user_id, models=["m1"], key_alias=f"a-{user_id}")
    second = await proxy.key_generate(user_id=user_id, models=["m2"])

    tokens = await proxy.http.get("/key/list", params={"user_id": user_id}, headers=proxy.master)
    full = await proxy.http.get(
        "/key/list",
        params={"user_id": user_id, "return_full_object": "true"},
        headers=proxy.master,
    )

    assert tokens.status_code == 200
    assert sorted(tokens.json()["keys"]) == sorted([first["token"], second["token"]])
    assert (tokens.json()["total_count"], tokens.json()["current_page"]) == (2, 1)
    assert tokens.json()["total_pages"] == 1
    rows = {row["token"]: row for row in full.json()["keys"]}
    assert set(rows) == {first["token"], second["token"]}
    assert rows[first["token"]]["key_alias"] == f"a-{user_id}"
    assert rows[first["token"]]["models"] == ["m1"]
    assert rows[second["token"]]["user_id"] == user_id
    assert "key" not in rows[first["token"]]


async def test_key_list_pages_by_ten(proxy: Proxy) -> None:
    user_id = proxy.new_user_id()
    made = {(await proxy.key_generate(user_id=user_id))["token"] for _ in range(12)}

    first = await proxy.http.get("/key/list", params={"user_id": user_id}, headers=proxy.master)
    second = await proxy.http.get(
        "/key/list", params={"user_id": user_id, "page": 2}, headers=proxy.master
    )

    assert len(first.json()["keys"]) == 10
    assert (first.json()["total_count"], first.json()["total_pages"]) == (12, 2)
    assert second.json()["current_page"] == 2
    assert set(first.json()["keys"]) | set(second.json()["keys"]) == made


async def test_key_list_finds_a_key_by_alias(proxy: Proxy) -> None:
    alias = f"alias-{proxy.new_user_id()}"
    generated = await proxy.key_generate(key_alias=alias)
    await proxy.key_generate(user_id=generated["user_id"])

    response = await proxy.http.get("/key/list", params={"key_alias": alias}, headers=proxy.master)

    assert response.json()["keys"] == [generated["token"]]


async def test_key_list_of_an_unknown_user_is_empty(proxy: Proxy) -> None:
    response = await proxy.http.get(
        "/key/list",
        params={"user_id": proxy.new_user_id(), "return_full_object": "true"},
        headers=proxy.master,
    )

    assert response.status_code == 200
    assert response.json() == {"keys": [], "total_count": 0, "current_page": 1, "total_pages": 0}


async def test_a_deleted_key_is_gone_for_good(proxy: Proxy) -> None:
    generated = await proxy.key_generate(models=["m1"])

    deleted = await proxy.http.post(
        "/key/delete", json={"keys": [generated["key"]]}, headers=proxy.master
    )
    info = await key_info(proxy, generated["key"])
    chat = await proxy.chat(generated["key"], "m1")
    again = await proxy.http.post(
        "/key/delete", json={"keys": [generated["key"]]}, headers=proxy.master
    )

    assert deleted.status_code == 200
    assert deleted.json() == {"deleted_keys": [generated["key"]]}
    if proxy.current:
        # Served from the deleted-keys table.
        assert info.status_code == 200
        assert info.json()["info"]["status"] == "deleted"
        assert info.json()["info"]["deleted_at"]
    else:
        assert info.status_code == 404
    assert chat.status_code == 401
    assert litellm_error(chat)["type"] == "token_not_found_in_db"
    assert again.status_code == 404
    error = litellm_error(again)
    assert error["message"] == "{'error': 'No keys found'}"
    assert error["param"] == (None if proxy.current else "None")


async def test_key_delete_by_token_removes_it_from_the_list(proxy: Proxy) -> None:
    generated = await proxy.key_generate(models=["m1"])

    response = await proxy.http.post(
        "/key/delete", json={"keys": [generated["token"]]}, headers=proxy.master
    )
    listed = await proxy.http.get(
        "/key/list", params={"user_id": generated["user_id"]}, headers=proxy.master
    )

    assert response.json() == {"deleted_keys": [generated["token"]]}
    assert listed.json()["keys"] == []


async def test_key_delete_echoes_every_key_asked_when_one_exists(proxy: Proxy) -> None:
    generated = await proxy.key_generate(models=["m1"])

    response = await proxy.http.post(
        "/key/delete",
        json={"keys": [generated["token"], "sk-contract-no-such-key"]},
        headers=proxy.master,
    )

    assert response.status_code == 200
    assert response.json() == {"deleted_keys": [generated["token"], "sk-contract-no-such-key"]}


async def test_key_block_refuses_the_keys_calls_until_unblocked(proxy: Proxy) -> None:
    generated = await proxy.key_generate(models=["m1"])
    secret, token = generated["key"], generated["token"]
    fresh = (await key_info(proxy, token)).json()["info"]

    blocked = await proxy.http.post("/key/block", json={"key": token}, headers=proxy.master)
    again = await proxy.http.post("/key/block", json={"key": token}, headers=proxy.master)
    refused = await proxy.chat(secret, "m1")
    listed = await proxy.http.get(
        "/key/list",
        params={"user_id": generated["user_id"], "return_full_object": "true"},
        headers=proxy.master,
    )
    unblocked = await proxy.http.post("/key/unblock", json={"key": token}, headers=proxy.master)
    after = (await key_info(proxy, token)).json()["info"]
    answered = await proxy.chat(secret, "m1")

    assert fresh["blocked"] is None
    assert blocked.status_code == 200, blocked.text
    assert (blocked.json()["token"], blocked.json()["blocked"]) == (token, True)
    assert again.status_code == 200  # blocking twice changes nothing
    assert refused.status_code == 401
    error = litellm_error(refused)
    assert error["type"] == "auth_error"
    assert "Key is blocked" in error["message"]
    assert [k["blocked"] for k in listed.json()["keys"]] == [True]
    assert unblocked.status_code == 200
    assert unblocked.json()["blocked"] is False
    assert after["blocked"] is False
    assert answered.status_code == 200, answered.text


async def test_key_block_of_an_unknown_key_is_refused(proxy: Proxy) -> None:
    unknown = hashlib.sha256(b"never generated").hexdigest()

    for path in ("/key/block", "/key/unblock"):
        response = await proxy.http.post(path, json={"key": unknown}, headers=proxy.master)

        error = litellm_error(response)
        if proxy.current:
            assert response.status_code == 404
            assert error["type"] == "not_found_error"
        else:
            assert response.status_code == 401
            assert "not found in db" in error["message"]


async def test_key_block_needs_the_master_key(proxy: Proxy) -> None:
    generated = await proxy.key_generate(models=["m1"])

    response = await proxy.http.post(
        "/key/block", json={"key": generated["token"]}, headers=bearer(generated["key"])
    )

    assert response.status_code == 401
    assert "Only proxy admin" in litellm_error(response)["message"]
    assert (await key_info(proxy, generated["token"])).json()["info"]["blocked"] is None
