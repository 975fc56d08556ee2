"""The whole workflow through GraphQL, against the emulator and the real proxies."""

from __future__ import annotations

import hashlib
import logging

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.models import ApiKey, AuditEvent
from tests import documents
from tests.portal import Portal
from tests.workflow.conftest import Stack, assert_key_refused, assert_model_refused


async def test_subscribe_create_key_call_then_cancel_revokes_the_key(stack: Stack) -> None:
    portal = stack.portal
    user_id = await portal.login()
    me = (await portal.data(documents.ME))["me"]
    assert (me["id"], me["litellmSyncStatus"]) == (user_id, "SYNCED")
    await stack.resources.litellm.user_info(user_id)  # LiteLLM knows the user by our id

    subscribed = await portal.subscribe("m1")
    assert subscribed["__typename"] == "SubscriptionCreateSuccess"
    subscription = subscribed["subscription"]
    assert (subscription["status"], subscription["model"]["id"]) == ("ACTIVE", "m1")

    created = await portal.create_key(["m1"], name="notebook")
    assert created["__typename"] == "ApiKeyCreateSuccess", created
    secret = created["secret"]
    key = created["apiKey"]
    assert secret.startswith("sk-")
    assert key["prefix"] == secret[:8]
    assert key["status"] == "ACTIVE"
    assert [m["id"] for m in key["modelAccess"]] == ["m1"]

    # LiteLLM itself enforces the key's models.
    allowed = await stack.chat(secret, "m1")
    assert allowed.status_code == 200, allowed.text
    assert_model_refused(await stack.chat(secret, "m2"))

    denied = await portal.create_key(["m2"], name="not subscribed")
    assert denied["__typename"] == "ModelAccessDeniedError"
    assert (denied["code"], denied["modelIds"]) == ("MODEL_ACCESS_DENIED", ["m2"])

    cancelled = await portal.cancel(subscription["id"])
    assert cancelled["__typename"] == "SubscriptionCancelSuccess"
    assert cancelled["subscription"]["status"] == "CANCELLED"
    keys = await portal.keys()
    assert [(k["id"], k["status"], k["modelAccess"]) for k in keys] == [(key["id"], "REVOKED", [])]
    assert_key_refused(await stack.chat(secret, "m1"))


async def test_cancel_narrows_keys_that_keep_other_models(stack: Stack) -> None:
    portal = stack.portal
    await portal.login()
    sub_m1 = (await portal.subscribe("m1"))["subscription"]
    await portal.subscribe("m2")
    created = await portal.create_key(["m1", "m2"])
    secret = created["secret"]

    await portal.cancel(sub_m1["id"])

    [key] = await portal.keys()
    assert (key["status"], [m["id"] for m in key["modelAccess"]]) == ("ACTIVE", ["m2"])
    assert_model_refused(await stack.chat(secret, "m1"))
    assert (await stack.chat(secret, "m2")).status_code == 200


async def test_resubscribing_after_cancel_reuses_the_row(stack: Stack) -> None:
    portal = stack.portal
    await portal.login()
    first = (await portal.subscribe("m1"))["subscription"]
    await portal.cancel(first["id"])

    again = await portal.subscribe("m1")

    assert again["__typename"] == "SubscriptionCreateSuccess"
    assert again["subscription"]["id"] == first["id"]
    assert again["subscription"]["status"] == "ACTIVE"
    duplicate = await portal.subscribe("m1")
    assert (duplicate["__typename"], duplicate["code"]) == (
        "AlreadySubscribedError",
        "ALREADY_SUBSCRIBED",
    )


async def test_revoke_deletes_the_key_in_litellm_and_is_idempotent(stack: Stack) -> None:
    portal = stack.portal
    await portal.login()
    await portal.subscribe("m1")
    created = await portal.create_key(["m1"])
    key_id, secret = created["apiKey"]["id"], created["secret"]

    first = await portal.revoke(key_id)
    second = await portal.revoke(key_id)

    assert first["__typename"] == second["__typename"] == "ApiKeyRevokeSuccess"
    assert first["apiKey"]["status"] == "REVOKED"
    assert first["apiKey"]["revokedAt"] == second["apiKey"]["revokedAt"]
    assert_key_refused(await stack.chat(secret, "m1"))


async def test_audit_trail_and_logs_never_hold_the_secret(
    portal: Portal, db_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    user_id = await portal.login()
    subscription = (await portal.subscribe("m1"))["subscription"]
    created = await portal.create_key(["m1"])
    secret, key_id = created["secret"], created["apiKey"]["id"]
    await portal.client.get(
        "/authz", params={"model": "m2"}, headers={"Authorization": f"Bearer {secret}"}
    )
    await portal.revoke(key_id)
    await portal.cancel(subscription["id"])

    async with AsyncSession(db_engine) as session:
        events = (await session.exec(select(AuditEvent).order_by(col(AuditEvent.created_at)))).all()
        stored_keys = (await session.exec(select(ApiKey))).all()
    assert [(e.action, e.success) for e in events] == [
        ("user.login", True),
        ("subscription.create", True),
        ("api_key.create", True),
        ("api_key.access_denied", False),
        ("api_key.revoke", True),
        ("subscription.cancel", True),
    ]
    assert {str(e.actor_id) for e in events} == {user_id}
    assert all(secret not in str(e.details) for e in events)
    assert [k.secret_sha256 for k in stored_keys] == [hashlib.sha256(secret.encode()).hexdigest()]
    assert secret not in caplog.text
    assert secret[8:20] not in caplog.text
