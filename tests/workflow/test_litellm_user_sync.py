"""Every signed-in user exists in LiteLLM; a LiteLLM failure never blocks the sign-in."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.models import AuditEvent, SyncStatus, User
from app.resources import Resources
from app.services import catalog
from litellm_emulator import LiteLLMEmulator
from tests import documents
from tests.portal import Portal
from tests.scrape import recorded

BACKLOG = "litemaas_litellm_user_sync_backlog"
SYNCS = "litemaas_litellm_user_syncs_total"


def _user_news(emulator: LiteLLMEmulator) -> int:
    return sum(1 for method, path in emulator.requests if (method, path) == ("POST", "/user/new"))


async def test_litellm_down_at_login_records_error_and_retry_syncs(
    portal: Portal, emulator: LiteLLMEmulator, db_engine: AsyncEngine
) -> None:
    emulator.faults.down = True
    user_id = await portal.login()

    me = (await portal.data(documents.ME))["me"]
    assert me["litellmSyncStatus"] == "ERROR"
    assert "cannot connect" in me["litellmSyncError"]
    async with AsyncSession(db_engine) as session:
        failures = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "user.litellm_sync"))
        ).all()
    assert [(str(e.actor_id), e.success) for e in failures] == [(user_id, False)]

    still_down = (await portal.data(documents.LITELLM_SYNC_RETRY))["litellmSyncRetry"]
    assert (still_down["__typename"], still_down["code"]) == (
        "LitellmUnavailableError",
        "LITELLM_UNAVAILABLE",
    )

    emulator.faults.clear()
    retried = (await portal.data(documents.LITELLM_SYNC_RETRY))["litellmSyncRetry"]

    assert (retried["__typename"], retried["user"]["litellmSyncStatus"]) == (
        "LitellmSyncRetrySuccess",
        "SYNCED",
    )
    assert user_id in emulator.users
    me = (await portal.data(documents.ME))["me"]
    assert (me["litellmSyncStatus"], me["litellmSyncError"]) == ("SYNCED", None)


async def test_reconciler_retries_users_in_error_after_their_backoff(
    portal: Portal, emulator: LiteLLMEmulator, resources: Resources, db_engine: AsyncEngine
) -> None:
    emulator.faults.down = True
    user_id = await portal.login()
    emulator.faults.clear()

    not_yet = await resources.reconciler.run()
    assert not_yet.users_synced == 0  # the backoff has not passed
    assert recorded(resources.metrics, BACKLOG) == 1  # waiting for its retry
    assert recorded(resources.metrics, SYNCS, outcome="failed") == 1
    async with AsyncSession(db_engine) as session:
        user = await session.get(User, uuid.UUID(user_id))
        assert user is not None
        assert user.sync_attempts == 1
        user.next_sync_at = user.last_login_at  # as if the backoff had passed
        session.add(user)
        await session.commit()

    report = await resources.reconciler.run()

    assert report.users_synced == 1
    assert recorded(resources.metrics, BACKLOG) == 0
    assert recorded(resources.metrics, SYNCS, outcome="succeeded") == 1
    assert user_id in emulator.users
    assert (await portal.data(documents.ME))["me"]["litellmSyncStatus"] == "SYNCED"


async def test_existing_litellm_user_is_adopted_not_duplicated(
    portal: Portal, emulator: LiteLLMEmulator
) -> None:
    user_id = await portal.login("carol")
    creates = _user_news(emulator)

    await portal.login("carol")  # second sign-in: LiteLLM already has the user

    assert _user_news(emulator) == creates == 1
    assert list(emulator.users) == [user_id]


async def test_twenty_concurrent_first_requests_create_one_litellm_user(
    portal: Portal, emulator: LiteLLMEmulator, resources: Resources
) -> None:
    models = [f"team/model-{i}" for i in range(20)]
    for model in models:
        emulator.add_model(model)
    emulator.faults.down = True
    user_id = await portal.login()  # LiteLLM down: the user is not there yet
    emulator.faults.clear()
    emulator.faults.latency = 0.02  # LiteLLM takes a moment, as a real one does
    await catalog.sync_models(
        models=resources.catalogue, litellm=resources.litellm, valve=resources.valve
    )

    results = await asyncio.gather(*(portal.subscribe(m) for m in models))

    assert [r["__typename"] for r in results] == ["SubscriptionCreateSuccess"] * 20
    assert _user_news(emulator) == 1
    assert user_id in emulator.users


async def test_twenty_concurrent_first_sign_ins_create_one_user(
    client: httpx.AsyncClient, emulator: LiteLLMEmulator, db_engine: AsyncEngine
) -> None:
    emulator.faults.latency = 0.02
    body = {"username": "dave", "email": "dave@example.com", "groups": []}

    responses = await asyncio.gather(
        *(client.post("/auth/dev-login", json=body) for _ in range(20))
    )

    assert [r.status_code for r in responses] == [200] * 20
    assert len({r.json()["id"] for r in responses}) == 1
    assert _user_news(emulator) == 1
    async with AsyncSession(db_engine) as session:
        users = (await session.exec(select(User))).all()
    assert [(u.username, u.sync_status) for u in users] == [("dave", SyncStatus.SYNCED)]


async def test_litellm_refusing_the_user_is_user_not_found_litellm(
    portal: Portal, emulator: LiteLLMEmulator
) -> None:
    # Another LiteLLM user already has this e-mail: LiteLLM refuses to create ours.
    await emulator_user_with_email(emulator, "erin@example.com")
    await portal.login("erin")

    me = (await portal.data(documents.ME))["me"]
    result = await portal.subscribe("m1")

    assert me["litellmSyncStatus"] == "ERROR"
    assert (result["__typename"], result["code"]) == (
        "UserNotFoundLitellmError",
        "USER_NOT_FOUND_LITELLM",
    )


async def emulator_user_with_email(emulator: LiteLLMEmulator, email: str) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator.app), base_url="http://emulator"
    ) as http:
        response = await http.post(
            "/user/new",
            headers={"Authorization": "Bearer sk-emulator-master"},
            json={"user_id": "someone-else", "user_email": email, "auto_create_key": False},
        )
    assert response.status_code == 200, response.text
