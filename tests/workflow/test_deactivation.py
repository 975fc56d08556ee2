"""Deactivating a user: sessions end, /authz and `modelAccess` refuse the keys at once, and the
keys are blocked in LiteLLM (unblocked again on reactivation), or later when LiteLLM is down."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth.session import SESSION_COOKIE
from app.db.models import ApiKey, ApiKeyStatus, AuditEvent, User
from app.failures import FailureCode
from app.resources import Resources
from app.services import safety, users
from litellm_emulator import LiteLLMEmulator
from tests import documents
from tests.portal import Portal
from tests.scrape import recorded
from tests.workflow.conftest import Stack


async def _checks(client: httpx.AsyncClient, secret: str) -> tuple[Any, ...]:
    """`modelAccess` and `/authz` for m1: the key decides, whatever session the client has."""
    headers = {"Authorization": f"Bearer {secret}"}
    graphql = await client.post(
        "/graphql",
        json={"query": documents.MODEL_ACCESS, "variables": {"model": "m1"}},
        headers=headers,
    )
    authz = await client.get("/authz", params={"model": "m1"}, headers=headers)
    result = graphql.json()["data"]["modelAccess"]
    return result["__typename"], result.get("code"), authz.status_code, authz.json().get("code")


async def _user_with_key(portal: Portal) -> tuple[uuid.UUID, dict[str, Any]]:
    user_id = uuid.UUID(await portal.login(f"leaver-{uuid.uuid4().hex[:10]}"))
    await portal.subscribe("m1")
    return user_id, await portal.create_key(["m1"])


async def test_deactivation_ends_sessions_refuses_the_keys_and_blocks_them_in_litellm(
    stack: Stack, db_engine: AsyncEngine
) -> None:
    portal, resources = stack.portal, stack.resources
    user_id, created = await _user_with_key(portal)
    secret = created["secret"]
    session = portal.client.cookies[SESSION_COOKIE]
    before = await _checks(portal.client, secret)
    assert (await stack.chat(secret, "m1")).status_code == 200

    failure = await users.set_active(
        users=resources.users,
        litellm=resources.litellm,
        user_id=user_id,
        active=False,
        actor_id=None,
    )
    portal.client.cookies.set(SESSION_COOKIE, session)
    me_after = await portal.gql(documents.ME)
    checks_after = await _checks(portal.client, secret)
    chat_after = await stack.chat(secret, "m1")

    assert before == ("ModelAccessGranted", None, 200, None)
    assert failure is None
    assert me_after == {"data": {"me": None}}
    assert checks_after == ("InvalidApiKeyError", "INVALID_API_KEY", 401, "INVALID_API_KEY")
    assert chat_after.status_code == 401
    assert "blocked" in chat_after.json()["error"]["message"]
    # Nothing lost: the key is still the user's active key, only blocked.
    async with AsyncSession(db_engine) as db:
        [key] = (await db.exec(select(ApiKey).where(ApiKey.user_id == user_id))).all()
        actions = [e.action for e in (await db.exec(select(AuditEvent))).all()]
    assert key.status is ApiKeyStatus.ACTIVE
    assert "user.deactivate" in actions

    reactivated = await users.set_active(
        users=resources.users,
        litellm=resources.litellm,
        user_id=user_id,
        active=True,
        actor_id=None,
    )

    assert reactivated is None
    assert await _checks(portal.client, secret) == ("ModelAccessGranted", None, 200, None)
    assert (await stack.chat(secret, "m1")).status_code == 200
    # The session ended by the deactivation stays ended.
    portal.client.cookies.set(SESSION_COOKIE, session)
    assert await portal.gql(documents.ME) == {"data": {"me": None}}


async def test_a_deactivated_user_cannot_sign_in_again(
    portal: Portal, resources: Resources, db_engine: AsyncEngine
) -> None:
    user_id = uuid.UUID(await portal.login("frozen"))
    await users.set_active(
        users=resources.users,
        litellm=resources.litellm,
        user_id=user_id,
        active=False,
        actor_id=None,
    )
    portal.client.cookies.clear()

    response = await portal.client.post(
        "/auth/dev-login", json={"username": "frozen", "email": "frozen@example.com"}
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    async with AsyncSession(db_engine) as db:
        [user] = (await db.exec(select(User))).all()
    assert user.is_active is False


async def test_with_litellm_down_deactivation_applies_here_and_the_reconciler_blocks_later(
    portal: Portal, resources: Resources, emulator: LiteLLMEmulator, db_engine: AsyncEngine
) -> None:
    user_id, created = await _user_with_key(portal)
    secret = created["secret"]
    emulator.faults.down = True

    failure = await users.set_active(
        users=resources.users,
        litellm=resources.litellm,
        user_id=user_id,
        active=False,
        actor_id=None,
    )
    checks_while_down = await _checks(portal.client, secret)
    blocked_while_down = [k.blocked for k in emulator.keys.values()]
    emulator.faults.clear()
    report = await resources.reconciler.run()
    second = await resources.reconciler.run()

    assert failure is not None
    assert failure.code is FailureCode.LITELLM_UNAVAILABLE
    # Here at once: the key is refused although LiteLLM could not be told.
    assert checks_while_down == ("InvalidApiKeyError", "INVALID_API_KEY", 401, "INVALID_API_KEY")
    assert blocked_while_down == [None]
    assert report.keys_blocked == 1
    assert second.keys_blocked == 0  # nothing left to do
    assert recorded(resources.metrics, "litemaas_reconciler_repairs_total", kind="key_blocked") == 1
    assert [k.blocked for k in emulator.keys.values()] == [True]
    async with AsyncSession(db_engine) as db:
        [user] = (await db.exec(select(User))).all()
        [key] = (await db.exec(select(ApiKey))).all()
    assert user.is_active is False
    assert key.status is ApiKeyStatus.ACTIVE

    # Reactivated while LiteLLM is down: the reconciler unblocks once it is back.
    emulator.faults.down = True
    failed = await users.set_active(
        users=resources.users,
        litellm=resources.litellm,
        user_id=user_id,
        active=True,
        actor_id=None,
    )
    emulator.faults.clear()
    # Unblocking every key at once is also what keys an operator blocked by hand look like:
    # the pass holds it until an admin confirms.
    held = await resources.reconciler.run()
    still_blocked = [k.blocked for k in emulator.keys.values()]
    [hold] = await safety.list_holds(holds=resources.safety_holds)
    admin = await users.sign_in(
        users=resources.users,
        sync=resources.user_sync,
        settings=resources.settings,
        identity=users.LoginIdentity(
            provider="dev",
            issuer=users.DEV_ISSUER,
            subject="operator",
            username="operator",
            email="operator@example.com",
            groups=("litemaas-admins",),
        ),
    )
    assert isinstance(admin, users.UserRead)
    await safety.confirm(holds=resources.safety_holds, hold_id=hold.id, actor_id=admin.id)
    unblocked = await resources.reconciler.run()

    assert failed is not None
    assert failed.code is FailureCode.LITELLM_UNAVAILABLE
    assert held.held == [safety.HoldKind.UNBLOCK_KEYS]
    assert held.keys_unblocked == 0
    assert still_blocked == [True]
    assert unblocked.keys_unblocked == 1
    assert [k.blocked for k in emulator.keys.values()] == [False]
    assert await _checks(portal.client, secret) == ("ModelAccessGranted", None, 200, None)


async def test_deactivating_an_unknown_user_is_not_found(resources: Resources) -> None:
    failure = await users.set_active(
        users=resources.users,
        litellm=resources.litellm,
        user_id=uuid.uuid4(),
        active=False,
        actor_id=None,
    )

    assert failure is not None
    assert failure.code is FailureCode.NOT_FOUND
