"""Key lifecycle through the whole service against every target: the BFF on PostgreSQL makes,
edits, rotates and expires keys, and the proxy itself (not only the BFF) honours each change;
spend from real traffic reaches the key's and the user's pages after a sync."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app.background import sync_spend
from app.litellm.client import LiteLLMClient
from app.litellm.errors import LiteLLMNotFound
from app.main import create_app
from app.resources import Resources
from tests import documents
from tests.conftest import make_settings, serve
from tests.contract.conftest import Proxy, Target, bearer
from tests.portal import Portal

pytestmark = pytest.mark.contract

# How long LiteLLM may take to write spend (its batch interval plus up to 5 s of jitter).
SPEND_TIMEOUT_SECONDS = 60.0


@dataclass
class Service:
    portal: Portal
    resources: Resources
    client: httpx.AsyncClient

    async def authz(self, secret: str, model: str) -> int:
        response = await self.client.get("/authz", params={"model": model}, headers=bearer(secret))
        return response.status_code


@pytest.fixture
async def service(
    target: Target, proxy: Proxy, database_url: str, db_engine: AsyncEngine
) -> AsyncIterator[Service]:
    """The BFF on the test database, talking to the target; its user is cleaned up there."""
    settings = make_settings(
        database_url=database_url,
        litellm_url=target.url,
        litellm_master_key=target.master_key,
    )
    app: Starlette = create_app(settings)
    async with serve(app) as client:
        portal = Portal(client)
        proxy.user_ids.append(await portal.login())
        yield Service(portal, app.state.resources, client)


async def _key(service: Service, models: list[str], **extra: Any) -> tuple[str, str]:
    for model in models:
        await service.portal.subscribe(model)
    created = await service.portal.create_key(models, **extra)
    assert created["__typename"] == "ApiKeyCreateSuccess", created
    return created["apiKey"]["id"], created["secret"]


async def _update(service: Service, key_id: str, **changes: Any) -> dict[str, Any]:
    result: dict[str, Any] = (
        await service.portal.data(documents.API_KEY_UPDATE, id=key_id, input=changes)
    )["apiKeyUpdate"]
    return result


async def _rotate(service: Service, key_id: str, grace: int) -> dict[str, Any]:
    result: dict[str, Any] = (
        await service.portal.data(
            documents.API_KEY_ROTATE, id=key_id, input={"gracePeriodSeconds": grace}
        )
    )["apiKeyRotate"]
    return result


async def key_info(proxy: Proxy, key: str) -> httpx.Response:
    return await proxy.http.get("/key/info", params={"key": key}, headers=proxy.master)


async def _refused(proxy: Proxy, secret: str, model: str) -> bool:
    response = await proxy.chat(secret, model)
    assert response.status_code in (200, 400, 401, 403), response.text
    return response.status_code != 200


async def test_adding_a_model_lets_the_same_secret_reach_it_and_removing_one_refuses_it(
    service: Service, proxy: Proxy
) -> None:
    key_id, secret = await _key(service, ["m1", "m2"])
    narrowed = await _update(service, key_id, modelIds=["m1"])
    assert narrowed["__typename"] == "ApiKeyUpdateSuccess", narrowed
    assert await _refused(proxy, secret, "m2")
    assert not await _refused(proxy, secret, "m1")

    widened = await _update(service, key_id, modelIds=["m1", "m2"], name="desk", maxBudget=9)

    assert widened["__typename"] == "ApiKeyUpdateSuccess", widened
    assert [m["id"] for m in widened["apiKey"]["modelAccess"]] == ["m1", "m2"]
    assert (widened["apiKey"]["name"], widened["apiKey"]["maxBudget"]) == ("desk", 9)
    assert not await _refused(proxy, secret, "m2")
    assert await service.authz(secret, "m2") == 200
    info = await service.resources.litellm.key_info(secret)
    assert sorted(info.models) == ["m1", "m2"]
    assert info.metadata["name"] == "desk"

    removed = await _update(service, key_id, modelIds=["m2"])

    assert removed["__typename"] == "ApiKeyUpdateSuccess", removed
    assert await _refused(proxy, secret, "m1")
    assert not await _refused(proxy, secret, "m2")
    assert await service.authz(secret, "m1") == 403


async def _at(start: float, seconds: float) -> None:
    """Wait until `seconds` after `start` (a time.monotonic() reading)."""
    await asyncio.sleep(max(0.0, start + seconds - time.monotonic()))


async def test_rotation_with_a_grace_period_keeps_the_old_secret_working_only_until_it_ends(
    service: Service, proxy: Proxy
) -> None:
    key_id, old = await _key(service, ["m1"])

    started = time.monotonic()
    rotated = await _rotate(service, key_id, 2)

    assert rotated["__typename"] == "ApiKeyRotateSuccess", rotated
    new = rotated["secret"]
    assert new != old
    assert rotated["apiKey"]["prefix"] == new[:8]
    await _at(started, 1)
    assert not await _refused(proxy, old, "m1")
    assert not await _refused(proxy, new, "m1")
    assert (await service.authz(old, "m1"), await service.authz(new, "m1")) == (200, 200)
    await _at(started, 3)
    assert await _refused(proxy, old, "m1")
    assert not await _refused(proxy, new, "m1")
    assert (await service.authz(old, "m1"), await service.authz(new, "m1")) == (401, 200)

    # The proxy refuses the old key by its own `expires`, set to the end of the grace period.
    old_info = await service.resources.litellm.key_info(old)
    assert old_info.expires is not None
    assert old_info.expires <= datetime.now(UTC)


async def test_rotation_without_a_grace_period_stops_the_old_secret_at_once(
    service: Service, proxy: Proxy
) -> None:
    key_id, old = await _key(service, ["m1"], maxBudget=3, rpmLimit=50)

    rotated = await _rotate(service, key_id, 0)

    assert rotated["__typename"] == "ApiKeyRotateSuccess", rotated
    new = rotated["secret"]
    assert await _refused(proxy, old, "m1")
    assert await service.authz(old, "m1") == 401
    assert not await _refused(proxy, new, "m1")
    info = await service.resources.litellm.key_info(new)
    assert (info.models, info.metadata["litemaas_key_id"]) == (("m1",), key_id)
    kept = await proxy.http.get("/key/info", params={"key": new}, headers=proxy.master)
    assert (kept.json()["info"]["max_budget"], kept.json()["info"]["rpm_limit"]) == (3.0, 50)


async def test_an_expired_key_is_refused_by_the_proxy_and_by_authz(
    service: Service, proxy: Proxy
) -> None:
    key_id, secret = await _key(service, ["m1"])
    expires_at = datetime.now(UTC) + timedelta(seconds=2)

    updated = await _update(service, key_id, expiresAt=expires_at.isoformat())

    assert updated["__typename"] == "ApiKeyUpdateSuccess", updated
    assert updated["apiKey"]["status"] == "ACTIVE"
    assert not await _refused(proxy, secret, "m1")
    await asyncio.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()) + 1)
    assert await _refused(proxy, secret, "m1")
    assert await service.authz(secret, "m1") == 401
    [listed] = await service.portal.keys()
    assert listed["status"] == "EXPIRED"


async def _eventually(check: Callable[[], Awaitable[bool]], *, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {within:.0f} s")
        await asyncio.sleep(0.5)


async def test_spend_appears_after_real_traffic(
    service: Service, proxy: Proxy, litellm_client: LiteLLMClient
) -> None:
    costs = {d.model_name: d.input_cost_per_token for d in await litellm_client.model_info()}
    if not costs.get("m1"):
        pytest.skip(
            f"{proxy.target.name} serves m1 without a cost per token: start it with "
            "LITELLM_PEER_CONFIG=tests/contract/litellm-config.yaml to see spend"
        )
    key_id, secret = await _key(service, ["m1"])
    for _ in range(3):
        assert not await _refused(proxy, secret, "m1")

    async def synced_spend() -> bool:
        await sync_spend(service.resources)
        [key] = await service.portal.keys()
        budget = (await service.portal.data(documents.MY_BUDGET))["me"]["budget"]
        return bool(key["spend"]) and bool(budget["spend"])

    await _eventually(synced_spend, within=SPEND_TIMEOUT_SECONDS, what="spend of key and user")

    [key] = await service.portal.keys()
    assert key["id"] == key_id
    assert key["spend"] > 0
    assert key["spendSyncedAt"] is not None
    budget = (await service.portal.data(documents.MY_BUDGET))["me"]["budget"]
    assert budget["syncedAt"] is not None
    assert budget["spend"] > 0
    assert budget["remaining"] == pytest.approx(budget["maxBudget"] - budget["spend"])


async def test_key_update_sets_every_field(litellm_client: LiteLLMClient, proxy: Proxy) -> None:
    generated = await proxy.key_generate(models=["m1"], max_budget=5, rpm_limit=60, duration="1h")
    expires_at = datetime.now(UTC) + timedelta(hours=2)

    await litellm_client.key_update(
        key=generated["token"],
        models=["m1", "m2"],
        max_budget=9,
        tpm_limit=200,
        rpm_limit=10,
        expires_at=expires_at,
        metadata={"name": "edited"},
    )

    found = await litellm_client.key_info(generated["key"])
    assert found.models == ("m1", "m2")
    assert found.metadata == {"name": "edited"}
    assert found.expires is not None
    assert abs((found.expires - expires_at).total_seconds()) < 5
    info = (await key_info(proxy, generated["key"])).json()["info"]
    assert (info["max_budget"], info["tpm_limit"], info["rpm_limit"]) == (9.0, 200, 10)


async def test_key_update_with_no_limit_and_no_expiry(
    litellm_client: LiteLLMClient, proxy: Proxy
) -> None:
    generated = await proxy.key_generate(models=["m1"], max_budget=5, rpm_limit=60, duration="1h")

    await litellm_client.key_update(
        key=generated["key"],
        models=["m1"],
        max_budget=None,
        tpm_limit=None,
        rpm_limit=None,
        expires_at=None,
        metadata={"name": "edited"},
    )

    info = (await key_info(proxy, generated["key"])).json()["info"]
    assert (info["max_budget"], info["rpm_limit"]) == (None, None)
    if proxy.current:
        assert info["expires"] is None
    else:  # 1.80.7 cannot take an expiry away (neither `duration` nor `expires` null does)
        assert info["expires"] is not None


async def test_key_update_of_an_unknown_key_is_not_found(litellm_client: LiteLLMClient) -> None:
    with pytest.raises(LiteLLMNotFound):
        await litellm_client.key_update(
            key="sk-" + "0" * 22,
            models=["m1"],
            max_budget=None,
            tpm_limit=None,
            rpm_limit=None,
            expires_at=None,
            metadata={},
        )


async def test_user_spend_lists_every_user_with_spend_and_budget(
    litellm_client: LiteLLMClient, proxy: Proxy
) -> None:
    created = await proxy.user_new(max_budget=12)

    listed = {u.user_id: u for u in await litellm_client.user_spend()}

    mine = listed[created["user_id"]]
    assert (mine.spend, mine.max_budget, mine.budget_reset_at) == (0.0, 12.0, None)


async def test_key_regenerate_needs_an_enterprise_licence_so_rotation_creates_then_revokes(
    proxy: Proxy,
) -> None:
    generated = await proxy.key_generate(models=["m1"])

    response = await proxy.http.post(
        "/key/regenerate", json={"key": generated["token"]}, headers=proxy.master
    )

    assert response.status_code == 500
    assert (
        "Regenerating Virtual Keys is an Enterprise feature" in response.json()["error"]["message"]
    )
    assert not await _refused(proxy, generated["key"], "m1")  # and the key is as it was
