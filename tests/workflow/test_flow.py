"""The whole workflow through GraphQL, against the emulator and the real proxies."""

from __future__ import annotations

from tests import documents
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
