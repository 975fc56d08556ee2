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
from app.failures import Failure, FailureCode
from app.resources import Resources
from app.services import users
from litellm_emulator import LiteLLMEmulator
from tests import documents
from tests.portal import Portal
from tests.workflow.conftest import Stack
from tests.workflow.test_queries import counted_statements


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


async def _set_active(
    resources: Resources, user_id: uuid.UUID, *, active: bool
) -> users.UserRead | Failure:
    return await users.update(
        users=resources.users,
        keys=resources.api_keys,
        litellm=resources.litellm,
        ensure_litellm_user=resources.user_sync.ensure,
        user_id=user_id,
        changes=users.AccountChanges(active=active),
        actor_id=None,
    )


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

    failure = await _set_active(resources, user_id, active=False)
    portal.client.cookies.set(SESSION_COOKIE, session)
    me_after = await portal.gql(documents.ME)
    checks_after = await _checks(portal.client, secret)
    chat_after = await stack.chat(secret, "m1")

    assert before == ("ModelAccessGranted", None, 200, None)
    assert isinstance(failure, users.UserRead)
    assert failure.is_active is False
    assert me_after == {"data": {"me": None}}
    assert checks_after == ("InvalidApiKeyError", "INVALID_API_KEY", 401, "INVALID_API_KEY")
    assert chat_after.status_code == 401
    assert "blocked" in chat_after.json()["error"]["message"]
    # Nothing lost: the key is still the user's active key, only blocked.
    async with AsyncSession(db_engine) as db:
        [key] = (await db.exec(select(ApiKey).where(ApiKey.user_id == user_id))).all()
        actions = [e.action for e in (await db.exec(select(AuditEvent))).all()]
    assert key.status is ApiKeyStatus.ACTIVE
    assert "user.update" in actions

    reactivated = await _set_active(resources, user_id, active=True)

    assert isinstance(reactivated, users.UserRead)
    assert reactivated.is_active is True
    assert await _checks(portal.client, secret) == ("ModelAccessGranted", None, 200, None)
    assert (await stack.chat(secret, "m1")).status_code == 200
    # The session ended by the deactivation stays ended.
    portal.client.cookies.set(SESSION_COOKIE, session)
    assert await portal.gql(documents.ME) == {"data": {"me": None}}


async def test_authz_reads_the_owners_state_in_its_one_statement(
    portal: Portal, resources: Resources
) -> None:
    user_id, created = await _user_with_key(portal)
    portal.client.cookies.clear()  # a gateway holds only the key
    headers = {"Authorization": f"Bearer {created['secret']}"}

    with counted_statements(resources) as while_active:
        granted = await portal.client.get("/authz", params={"model": "m1"}, headers=headers)
    await _set_active(resources, user_id, active=False)
    with counted_statements(resources) as once_deactivated:
        refused = await portal.client.get("/authz", params={"model": "m1"}, headers=headers)

    assert (granted.status_code, refused.status_code) == (200, 401)
    assert refused.json()["code"] == "INVALID_API_KEY"
    # Deactivation costs the access check nothing: the owner is part of the key's one read.
    assert len(while_active) == 1, while_active
    assert len(once_deactivated) == 1, once_deactivated
    assert "is_active" in while_active[0]


async def test_a_deactivated_user_cannot_sign_in_again(
    portal: Portal, resources: Resources, db_engine: AsyncEngine
) -> None:
    user_id = uuid.UUID(await portal.login("frozen"))
    await _set_active(resources, user_id, active=False)
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


async def test_with_litellm_down_deactivation_changes_nothing_on_either_side(
    portal: Portal, resources: Resources, emulator: LiteLLMEmulator, db_engine: AsyncEngine
) -> None:
    user_id, created = await _user_with_key(portal)
    secret = created["secret"]
    emulator.faults.down = True

    failure = await _set_active(resources, user_id, active=False)
    emulator.faults.clear()
    checks_after = await _checks(portal.client, secret)
    blocked_after = [bool(k.blocked) for k in emulator.keys.values()]

    assert isinstance(failure, Failure)
    assert failure.code is FailureCode.LITELLM_UNAVAILABLE
    assert checks_after == ("ModelAccessGranted", None, 200, None)
    assert blocked_after == [False]
    async with AsyncSession(db_engine) as db:
        [user] = (await db.exec(select(User))).all()
        actions = [e.action for e in (await db.exec(select(AuditEvent))).all()]
    assert user.is_active is True
    assert "user.update" not in actions
    assert await portal.gql(documents.ME) != {"data": {"me": None}}


async def test_deactivating_an_unknown_user_is_not_found(resources: Resources) -> None:
    failure = await _set_active(resources, uuid.uuid4(), active=False)

    assert isinstance(failure, Failure)
    assert failure.code is FailureCode.NOT_FOUND
