"""Editing, rotating and expiring keys, subscribing with a key, and spend, through GraphQL on
PostgreSQL with the emulator; what LiteLLM holds is checked on the emulator's side."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app.background import sync_spend
from app.db.models import utcnow
from app.main import create_app
from app.resources import Resources
from app.services import users
from app.services.api_keys import secret_digest
from litellm_emulator import LiteLLMEmulator
from tests import documents
from tests.conftest import make_settings, serve
from tests.portal import Portal


async def _update(portal: Portal, key_id: str, **changes: Any) -> dict[str, Any]:
    result: dict[str, Any] = (
        await portal.data(documents.API_KEY_UPDATE, id=key_id, input=changes)
    )["apiKeyUpdate"]
    return result


async def _rotate(portal: Portal, key_id: str, grace: int = 0) -> dict[str, Any]:
    result: dict[str, Any] = (
        await portal.data(documents.API_KEY_ROTATE, id=key_id, input={"gracePeriodSeconds": grace})
    )["apiKeyRotate"]
    return result


async def _subscribed_key(portal: Portal, *models: str) -> tuple[str, str]:
    await portal.login()
    for model in models:
        await portal.subscribe(model)
    created = await portal.create_key(list(models[:1]), name="laptop")
    return created["apiKey"]["id"], created["secret"]


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_update_changes_the_key_on_both_sides_and_is_audited(
    portal: Portal, emulator: LiteLLMEmulator, db_engine: AsyncEngine
) -> None:
    key_id, secret = await _subscribed_key(portal, "m1", "m2")
    expires_at = (utcnow() + timedelta(days=3)).replace(microsecond=0)

    result = await _update(
        portal,
        key_id,
        name="desk",
        modelIds=["m2", "m1"],
        maxBudget=9,
        tpmLimit=1000,
        rpmLimit=30,
        expiresAt=expires_at.isoformat(),
    )

    assert result["__typename"] == "ApiKeyUpdateSuccess", result
    key = result["apiKey"]
    assert (key["name"], key["maxBudget"], key["tpmLimit"], key["rpmLimit"]) == (
        "desk",
        9,
        1000,
        30,
    )
    assert [m["id"] for m in key["modelAccess"]] == ["m1", "m2"]
    assert key["expiresAt"].startswith(expires_at.isoformat()[:19])
    remote = emulator.keys[secret_digest(secret)]
    assert sorted(remote.models) == ["m1", "m2"]
    assert (remote.max_budget, remote.tpm_limit, remote.rpm_limit) == (9, 1000, 30)
    assert remote.metadata["name"] == "desk"
    assert remote.expires is not None
    assert abs((remote.expires - expires_at).total_seconds()) < 5
    async with db_engine.connect() as conn:
        audited = (
            await conn.execute(
                text("SELECT action FROM audit_events WHERE resource_id = :id ORDER BY created_at"),
                {"id": key_id},
            )
        ).scalars()
        assert list(audited) == ["api_key.create", "api_key.update"]


async def test_update_refuses_unsubscribed_models_and_an_empty_list(
    portal: Portal, emulator: LiteLLMEmulator
) -> None:
    key_id, secret = await _subscribed_key(portal, "m1")

    denied = await _update(portal, key_id, modelIds=["m1", "m2"])
    empty = await _update(portal, key_id, modelIds=[])

    assert (denied["__typename"], denied["code"], denied["modelIds"]) == (
        "ModelAccessDeniedError",
        "MODEL_ACCESS_DENIED",
        ["m2"],
    )
    assert (empty["__typename"], empty["code"], empty["field"]) == (
        "ValidationError",
        "VALIDATION_FAILED",
        "modelIds",
    )
    assert emulator.keys[secret_digest(secret)].models == ("m1",)


async def test_another_users_key_and_a_revoked_key_are_not_found(portal: Portal) -> None:
    key_id, _ = await _subscribed_key(portal, "m1")
    await portal.revoke(key_id)

    revoked = await _update(portal, key_id, name="desk")
    rotated = await _rotate(portal, key_id)
    await portal.login()  # someone else
    foreign = await _update(portal, key_id, name="desk")

    assert [r["code"] for r in (revoked, rotated, foreign)] == ["NOT_FOUND"] * 3


async def test_rotation_gives_a_new_secret_and_keeps_models_and_limits(
    portal: Portal, emulator: LiteLLMEmulator, client: httpx.AsyncClient
) -> None:
    key_id, old = await _subscribed_key(portal, "m1")

    rotated = await _rotate(portal, key_id, grace=600)

    assert rotated["__typename"] == "ApiKeyRotateSuccess", rotated
    new = rotated["secret"]
    assert new != old
    assert rotated["apiKey"]["id"] == key_id
    assert len(emulator.keys) == 2
    new_remote = emulator.keys[secret_digest(new)]
    old_remote = emulator.keys[secret_digest(old)]
    assert new_remote.models == ("m1",)
    assert new_remote.key_alias is not None
    assert new_remote.key_alias.startswith(key_id + "/")
    assert old_remote.expires is not None  # stops at the end of the grace period
    assert timedelta(seconds=590) < old_remote.expires - utcnow() <= timedelta(seconds=600)
    for secret in (old, new):
        check = await client.get("/authz", params={"model": "m1"}, headers=_bearer(secret))
        assert check.status_code == 200
    [listed] = await portal.keys()
    assert listed["prefix"] == new[:8]
    again = await _rotate(portal, key_id)  # the old secret of a second rotation is the new one
    assert again["__typename"] == "ApiKeyRotateSuccess"
    assert secret_digest(new) not in emulator.keys
    assert secret_digest(old) in emulator.keys  # still in its grace period


async def test_a_grace_period_out_of_bounds_is_refused(portal: Portal) -> None:
    key_id, _ = await _subscribed_key(portal, "m1")

    for grace in (-1, 7 * 86400 + 1):
        result = await _rotate(portal, key_id, grace)
        assert (result["code"], result["field"]) == ("VALIDATION_FAILED", "gracePeriodSeconds")


async def test_an_expired_key_shows_expired_and_is_refused(
    portal: Portal, client: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    key_id, secret = await _subscribed_key(portal, "m1")
    async with db_engine.begin() as conn:
        await conn.execute(
            text("UPDATE api_keys SET expires_at = :t WHERE id = :id"),
            {"t": utcnow() - timedelta(seconds=1), "id": uuid.UUID(key_id)},
        )

    [listed] = await portal.keys()
    check = await client.get("/authz", params={"model": "m1"}, headers=_bearer(secret))
    rotated = await _rotate(portal, key_id)

    assert listed["status"] == "EXPIRED"
    assert check.status_code == 401
    assert (rotated["code"], rotated["field"]) == ("VALIDATION_FAILED", "expiresAt")


@pytest.fixture
async def policy_portal(
    database_url: str, db_engine: AsyncEngine, emulator: LiteLLMEmulator
) -> AsyncIterator[Portal]:
    settings = make_settings(
        database_url=database_url,
        litellm_url="http://litellm-emulator.test",
        litellm_master_key=emulator.master_key,
        key_default_expiry_days=30,
        key_max_expiry_days=90,
        key_max_budget=20,
    )
    app: Starlette = create_app(settings, litellm_transport=httpx.ASGITransport(app=emulator.app))
    async with serve(app) as client:
        yield Portal(client)


async def test_key_policy_defaults_and_caps(policy_portal: Portal) -> None:
    portal = policy_portal
    await portal.login()
    await portal.subscribe("m1")
    far = (utcnow() + timedelta(days=91)).isoformat()

    defaulted = await portal.create_key(["m1"])
    too_long = await portal.create_key(["m1"], expiresAt=far)
    too_rich = await portal.create_key(["m1"], maxBudget=21)
    key_id = defaulted["apiKey"]["id"]
    update_too_long = await _update(portal, key_id, expiresAt=far)
    update_too_rich = await _update(portal, key_id, maxBudget=21)

    assert defaulted["__typename"] == "ApiKeyCreateSuccess"
    assert defaulted["apiKey"]["maxBudget"] == 20
    assert defaulted["apiKey"]["expiresAt"] is not None
    assert (too_long["code"], too_long["field"]) == ("VALIDATION_FAILED", "expiresAt")
    assert (too_rich["code"], too_rich["field"]) == ("VALIDATION_FAILED", "maxBudget")
    assert (update_too_long["field"], update_too_rich["field"]) == ("expiresAt", "maxBudget")


async def test_subscribe_with_a_key_makes_both(portal: Portal, emulator: LiteLLMEmulator) -> None:
    await portal.login()

    result = (
        await portal.data(
            documents.SUBSCRIBE_WITH_KEY, modelId="m1", key={"name": "laptop", "rpmLimit": 5}
        )
    )["subscriptionCreate"]

    assert result["__typename"] == "SubscriptionCreateSuccess"
    assert result["keyError"] is None
    assert result["subscription"]["status"] == "ACTIVE"
    made = result["apiKey"]
    assert [m["id"] for m in made["apiKey"]["modelAccess"]] == ["m1"]
    assert emulator.keys[secret_digest(made["secret"])].rpm_limit == 5


async def test_subscribe_with_a_key_keeps_the_subscription_when_the_key_fails(
    portal: Portal, emulator: LiteLLMEmulator
) -> None:
    await portal.login()
    first = (await portal.data(documents.SUBSCRIBE_WITH_KEY, modelId="m1", key={"name": " "}))[
        "subscriptionCreate"
    ]

    assert first["__typename"] == "SubscriptionCreateSuccess"
    assert first["apiKey"] is None
    assert (first["keyError"]["code"], first["keyError"]["field"]) == ("VALIDATION_FAILED", "name")
    assert [s["modelId"] for s in await _subscriptions(portal)] == ["m1"]
    assert emulator.keys == {}


async def _subscriptions(portal: Portal) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = (await portal.data(documents.SUBSCRIPTIONS))["subscriptions"]
    return listed


async def test_spend_is_synced_in_pages_and_pages_never_call_litellm(
    portal: Portal, emulator: LiteLLMEmulator, resources: Resources
) -> None:
    emulator.add_model("m1", {"input_cost_per_token": 0.001, "output_cost_per_token": 0.002})
    key_id, secret = await _subscribed_key(portal, "m1")
    [before] = await portal.keys()
    budget_before = (await portal.data(documents.MY_BUDGET))["me"]["budget"]
    for _ in range(2):
        chat = await emulator_chat(emulator, secret)
        assert chat.status_code == 200

    asked = len(emulator.requests)
    await portal.keys()
    await portal.data(documents.MY_BUDGET)
    assert len(emulator.requests) == asked  # pages read the stored spend only

    await sync_spend(resources)

    synced = emulator.requests[asked:]
    assert sorted(path for _, path in synced) == ["/key/list", "/user/list"]
    [after] = await portal.keys()
    budget = (await portal.data(documents.MY_BUDGET))["me"]["budget"]
    assert (before["spend"], before["spendSyncedAt"]) == (None, None)
    assert budget_before["spend"] is None
    assert budget_before["syncedAt"] is None
    assert after["id"] == key_id
    assert after["spend"] == pytest.approx(2 * (10 * 0.001 + 20 * 0.002))
    assert after["spendSyncedAt"] is not None
    assert budget["spend"] == pytest.approx(after["spend"])
    assert budget["remaining"] == pytest.approx(budget["maxBudget"] - budget["spend"])
    assert budget["syncedAt"] is not None


async def emulator_chat(emulator: LiteLLMEmulator, secret: str) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator.app), base_url="http://litellm"
    ) as http:
        return await http.post(
            "/chat/completions",
            json={"model": "m1", "messages": [{"role": "user", "content": "hi"}]},
            headers=_bearer(secret),
        )


async def test_deactivating_the_owner_blocks_the_replaced_secret_in_its_grace_period_too(
    portal: Portal, emulator: LiteLLMEmulator, resources: Resources
) -> None:
    key_id, old = await _subscribed_key(portal, "m1")
    new = (await _rotate(portal, key_id, grace=600))["secret"]
    owner = next(iter(emulator.keys.values())).user_id
    assert owner is not None

    updated = await users.update(
        users=resources.users,
        keys=resources.api_keys,
        litellm=resources.litellm,
        ensure_litellm_user=resources.user_sync.ensure,
        user_id=uuid.UUID(owner),
        changes=users.AccountChanges(active=False),
        actor_id=None,
    )

    assert isinstance(updated, users.UserRead)
    assert [emulator.keys[secret_digest(s)].blocked for s in (old, new)] == [True, True]
    report = await resources.reconciler.run()
    assert (report.keys_blocked, report.keys_unblocked) == (0, 0)
