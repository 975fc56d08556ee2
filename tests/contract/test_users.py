"""/user/new, /user/info, /user/update and /user/delete, with the traps between releases."""

from __future__ import annotations

import httpx
import pytest

from tests.contract.conftest import Proxy, litellm_error

pytestmark = pytest.mark.contract


def is_unknown_user(response: httpx.Response) -> bool:
    """ "Not found" as a client must read it from either release: a 404, or a 200 whose
    `user_info` is missing or lacks `user_id` (1.80.7 answers `{"spend": 0}`)."""
    if response.status_code == 404:
        return True
    if response.status_code != 200:
        return False
    info = response.json().get("user_info")
    return not isinstance(info, dict) or not info.get("user_id")


async def test_user_new_creates_the_user_without_a_key(proxy: Proxy) -> None:
    user_id = proxy.new_user_id()

    created = await proxy.user_new(
        user_id=user_id,
        user_email=f"{user_id}@example.com",
        user_alias="Contract User",
        max_budget=10,
        models=["m1", "m2"],
        metadata={"source": "contract"},
    )

    assert created["user_id"] == user_id
    assert created["user_email"] == f"{user_id}@example.com"
    assert created["user_alias"] == "Contract User"
    assert created["models"] == ["m1", "m2"]
    assert created["max_budget"] == 10.0
    assert created["metadata"] == {"source": "contract"}
    assert created["key"] == ""
    assert created["token"] is None


async def test_user_new_with_auto_create_key_returns_a_working_key(proxy: Proxy) -> None:
    created = await proxy.user_new(models=["m1"], auto_create_key=True)

    assert created["key"].startswith("sk-")
    assert created["key_name"] == "sk-..." + created["key"][-4:]
    assert created["token"] is None
    assert (await proxy.chat(created["key"], "m1")).status_code == 200


async def test_user_info_describes_a_known_user(proxy: Proxy) -> None:
    created = await proxy.user_new(user_alias="Known", max_budget=3, models=["m1"])
    user_id = created["user_id"]

    response = await proxy.http.get("/user/info", params={"user_id": user_id}, headers=proxy.master)

    assert response.status_code == 200
    body = response.json()
    assert body["user_id"] == user_id
    assert body["user_info"]["user_id"] == user_id
    assert body["user_info"]["user_alias"] == "Known"
    assert body["user_info"]["max_budget"] == 3.0
    assert body["user_info"]["models"] == ["m1"]
    assert body["keys"] == []
    assert body["teams"] == []


async def test_user_info_of_an_unknown_user_is_not_found(proxy: Proxy) -> None:
    user_id = proxy.new_user_id()

    response = await proxy.http.get("/user/info", params={"user_id": user_id}, headers=proxy.master)

    assert is_unknown_user(response)
    if proxy.current:
        assert response.status_code == 404
        assert litellm_error(response) == {
            "message": f"User {user_id} not found",
            "type": "internal_server_error",
            "param": None,
            "code": "404",
        }
    else:
        # The trap: 200 with a stub that has no user_id, not null.
        assert response.status_code == 200
        assert response.json()["user_info"] == {"spend": 0}


async def test_user_info_without_user_id_describes_no_user_and_every_key(proxy: Proxy) -> None:
    generated = await proxy.key_generate(models=["m1"])

    response = await proxy.http.get("/user/info", headers=proxy.master)

    assert response.status_code == 200
    body = response.json()
    assert body["user_info"] is None
    assert generated["token"] in {k["token"] for k in body["keys"]}
    assert body["user_id"] == ("default_user_id" if proxy.current else None)


async def test_a_duplicate_user_id_is_409_or_an_unchanged_row(proxy: Proxy) -> None:
    created = await proxy.user_new(max_budget=10)
    user_id = created["user_id"]

    again = await proxy.http.post(
        "/user/new",
        json={"user_id": user_id, "max_budget": 99, "auto_create_key": False},
        headers=proxy.master,
    )
    stored = await proxy.http.get("/user/info", params={"user_id": user_id}, headers=proxy.master)

    # Either way the stored user is the first one: a client must not trust 200 as "created".
    assert stored.json()["user_info"]["max_budget"] == 10.0
    if proxy.current:
        assert again.status_code == 409
        assert litellm_error(again) == {
            "message": f"{{'error': 'User with id {user_id} already exists'}}",
            "type": "internal_server_error",
            "param": None,
            "code": "409",
        }
    else:
        # 1.80.7 echoes the request as if it had created the user.
        assert again.status_code == 200
        assert again.json()["max_budget"] == 99


async def test_a_duplicate_email_is_refused(proxy: Proxy) -> None:
    first = await proxy.user_new(user_email=f"{proxy.new_user_id()}@example.com")
    second_id = proxy.new_user_id()

    response = await proxy.http.post(
        "/user/new",
        json={"user_id": second_id, "user_email": first["user_email"], "auto_create_key": False},
        headers=proxy.master,
    )

    error = litellm_error(response)
    assert response.status_code == (409 if proxy.current else 400)
    assert (
        error["message"] == f"{{'error': 'User with email {first['user_email']} already exists'}}"
    )
    assert is_unknown_user(
        await proxy.http.get("/user/info", params={"user_id": second_id}, headers=proxy.master)
    )


async def test_user_update_changes_a_known_user(proxy: Proxy) -> None:
    created = await proxy.user_new(max_budget=10, metadata={"source": "contract"})
    user_id = created["user_id"]

    response = await proxy.http.post(
        "/user/update",
        json={"user_id": user_id, "max_budget": 20, "metadata": {"updated": True}},
        headers=proxy.master,
    )

    assert response.status_code == 200
    assert response.json()["user_id"] == user_id
    assert response.json()["data"]["max_budget"] == 20.0
    assert response.json()["data"]["metadata"] == {"updated": True}
    stored = await proxy.http.get("/user/info", params={"user_id": user_id}, headers=proxy.master)
    assert stored.json()["user_info"]["max_budget"] == 20.0


async def test_user_update_of_an_unknown_user_creates_it(proxy: Proxy) -> None:
    user_id = proxy.new_user_id()

    response = await proxy.http.post(
        "/user/update", json={"user_id": user_id, "max_budget": 1}, headers=proxy.master
    )

    assert response.status_code == 200
    assert response.json()["data"]["user_id"] == user_id
    stored = await proxy.http.get("/user/info", params={"user_id": user_id}, headers=proxy.master)
    assert stored.status_code == 200
    assert stored.json()["user_info"]["user_id"] == user_id
    assert stored.json()["user_info"]["max_budget"] == 1.0


async def test_user_delete_removes_the_user_and_its_keys(proxy: Proxy) -> None:
    created = await proxy.user_new()
    user_id = created["user_id"]
    generated = await proxy.key_generate(user_id=user_id, models=["m1"])

    response = await proxy.http.post(
        "/user/delete", json={"user_ids": [user_id]}, headers=proxy.master
    )

    assert response.status_code == 200
    assert response.json() == 1
    assert is_unknown_user(
        await proxy.http.get("/user/info", params={"user_id": user_id}, headers=proxy.master)
    )
    listed = await proxy.http.get("/key/list", params={"user_id": user_id}, headers=proxy.master)
    assert listed.json()["keys"] == []
    assert (await proxy.chat(generated["key"], "m1")).status_code == 401
    info = await proxy.http.get("/key/info", params={"key": generated["key"]}, headers=proxy.master)
    assert info.status_code == 404


async def test_user_delete_of_an_unknown_user_is_fastapi_404(proxy: Proxy) -> None:
    user_id = proxy.new_user_id()

    response = await proxy.http.post(
        "/user/delete", json={"user_ids": [user_id]}, headers=proxy.master
    )

    assert response.status_code == 404
    assert response.json() == {"detail": {"error": f"User not found, passed user_id={user_id}"}}


async def test_a_key_for_a_user_without_a_row_creates_no_user(proxy: Proxy) -> None:
    user_id = proxy.new_user_id()

    generated = await proxy.key_generate(user_id=user_id, models=["m1"])
    response = await proxy.http.get("/user/info", params={"user_id": user_id}, headers=proxy.master)

    assert generated["user_id"] == user_id
    assert is_unknown_user(response)
    if not proxy.current:
        assert [k["token"] for k in response.json()["keys"]] == [generated["token"]]
