"""The safety valve: a reconciler or catalogue pass pointed at an empty or wrong LiteLLM (or
database) changes nothing en masse; it holds, says so in logs, /metrics and `health`, and waits
until the condition clears or an admin confirms."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.applications import Starlette

from app.db.models import ApiKey, ApiKeyStatus, AuditEvent, Model, utcnow
from app.main import create_app
from app.resources import Resources
from app.services import catalog, safety
from app.settings import Settings
from litellm_emulator import LiteLLMEmulator
from tests import documents
from tests.conftest import EMULATOR_MASTER_KEY, make_settings, serve
from tests.portal import Portal
from tests.scrape import recorded, sample
from tests.workflow.conftest import REAL_PROXIES, Stack

HEALTH = """query { health { status safetyHolds {
  id kind reason count total passesHeld detectedAt lastSeenAt confirmedAt } } }"""
CONFIRM = """mutation Confirm($id: ID!) { safetyHoldConfirm(id: $id) {
  __typename
  ... on SafetyHoldConfirmSuccess { hold { id kind count confirmedAt } }
  ... on UserError { code message } } }"""


class SwitchableLiteLLM(httpx.AsyncBaseTransport):
    """The network path to LiteLLM, which an operator can repoint at another LiteLLM."""

    def __init__(self, target: LiteLLMEmulator) -> None:
        self.target = target

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await httpx.ASGITransport(app=self.target.app).handle_async_request(request)


@pytest.fixture
def network(emulator: LiteLLMEmulator) -> SwitchableLiteLLM:
    return SwitchableLiteLLM(emulator)


@pytest.fixture
def empty_litellm() -> LiteLLMEmulator:
    """Another LiteLLM, serving the same models but holding no keys."""
    return LiteLLMEmulator(master_key=EMULATOR_MASTER_KEY, models=["m1", "m2"])


@pytest.fixture
def app(settings: Settings, network: SwitchableLiteLLM) -> Starlette:
    return create_app(settings, litellm_transport=network)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app) as client:
        yield client


@pytest.fixture
async def admin(app: Starlette, client: httpx.AsyncClient) -> AsyncIterator[Portal]:
    """An administrator's browser, beside the user's (`portal`)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        admin = Portal(other)
        await admin.login(f"admin-{uuid.uuid4().hex[:8]}", groups=["litemaas-admins"])
        yield admin


async def _keys_with_m1(portal: Portal, count: int) -> list[str]:
    await portal.login()
    await portal.subscribe("m1")
    return [(await portal.create_key(["m1"], name=f"k{i}"))["apiKey"]["id"] for i in range(count)]


async def _statuses(db_engine: AsyncEngine) -> dict[str, ApiKeyStatus]:
    async with AsyncSession(db_engine) as session:
        return {str(k.id): k.status for k in (await session.exec(select(ApiKey))).all()}


async def _health(portal: Portal) -> dict[str, Any]:
    health: dict[str, Any] = (await portal.data(HEALTH))["health"]
    return health


async def _trips(client: httpx.AsyncClient, kind: safety.HoldKind) -> int:
    metrics = (await client.get("/metrics")).text
    found = sample(metrics, "litemaas_safety_valve_trips_total", kind=kind.value)
    assert found is not None, metrics
    return int(found)


async def test_an_empty_litellm_revokes_nothing_until_an_admin_confirms(
    app: Starlette,
    portal: Portal,
    admin: Portal,
    client: httpx.AsyncClient,
    network: SwitchableLiteLLM,
    empty_litellm: LiteLLMEmulator,
    resources: Resources,
    db_engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    keys = await _keys_with_m1(portal, 3)
    network.target = empty_litellm  # LITELLM_URL now names a LiteLLM without these keys

    report = await resources.reconciler.run()

    assert report.held == [safety.HoldKind.REVOKE_MISSING_KEYS]
    assert report.missing_keys_revoked == 0
    assert await _statuses(db_engine) == dict.fromkeys(keys, ApiKeyStatus.ACTIVE)
    assert "would revoke 3 of 3 active API keys" in caplog.text
    health = await _health(portal)
    assert health["status"] == "DEGRADED"
    [hold] = health["safetyHolds"]
    assert (hold["kind"], hold["count"], hold["total"], hold["passesHeld"]) == (
        "REVOKE_MISSING_KEYS",
        3,
        3,
        1,
    )
    assert hold["confirmedAt"] is None
    assert await _trips(client, safety.HoldKind.REVOKE_MISSING_KEYS) == 1

    # Later passes keep refusing while the condition holds.
    await resources.reconciler.run()
    [again] = (await _health(portal))["safetyHolds"]
    assert (again["id"], again["passesHeld"]) == (hold["id"], 2)
    assert await _trips(client, safety.HoldKind.REVOKE_MISSING_KEYS) == 2
    assert await _statuses(db_engine) == dict.fromkeys(keys, ApiKeyStatus.ACTIVE)

    # Only an administrator may confirm.
    refused = await portal.gql(CONFIRM, id=hold["id"])
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as anonymous:
        body = await Portal(anonymous).gql(CONFIRM, id=hold["id"])
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await _health(portal))["safetyHolds"][0]["confirmedAt"] is None

    confirmed = (await admin.data(CONFIRM, id=hold["id"]))["safetyHoldConfirm"]
    assert confirmed["__typename"] == "SafetyHoldConfirmSuccess"
    assert confirmed["hold"]["confirmedAt"] is not None
    async with AsyncSession(db_engine) as session:
        [event] = (
            await session.exec(
                select(AuditEvent).where(col(AuditEvent.action) == "safety_hold.confirm")
            )
        ).all()
    admin_id = (await admin.data(documents.ME))["me"]["id"]
    assert (str(event.actor_id), event.resource_id) == (admin_id, hold["id"])

    applied = await resources.reconciler.run()

    assert (applied.missing_keys_revoked, applied.held) == (3, [])
    assert await _statuses(db_engine) == dict.fromkeys(keys, ApiKeyStatus.REVOKED)
    health = await _health(portal)
    assert (health["status"], health["safetyHolds"]) == ("OK", [])


async def test_the_hold_lifts_by_itself_when_litellm_lists_the_keys_again(
    portal: Portal,
    network: SwitchableLiteLLM,
    emulator: LiteLLMEmulator,
    empty_litellm: LiteLLMEmulator,
    resources: Resources,
    db_engine: AsyncEngine,
) -> None:
    keys = await _keys_with_m1(portal, 2)
    network.target = empty_litellm
    assert (await resources.reconciler.run()).held == [safety.HoldKind.REVOKE_MISSING_KEYS]
    assert (await _health(portal))["status"] == "DEGRADED"

    network.target = emulator  # the right LiteLLM again
    report = await resources.reconciler.run()

    assert (report.held, report.missing_keys_revoked) == ([], 0)
    health = await _health(portal)
    assert (health["status"], health["safetyHolds"]) == ("OK", [])
    assert await _statuses(db_engine) == dict.fromkeys(keys, ApiKeyStatus.ACTIVE)


async def test_a_confirmation_covers_exactly_what_was_held(
    portal: Portal,
    admin: Portal,
    network: SwitchableLiteLLM,
    emulator: LiteLLMEmulator,
    empty_litellm: LiteLLMEmulator,
    resources: Resources,
    db_engine: AsyncEngine,
) -> None:
    first = await _keys_with_m1(portal, 3)
    network.target = empty_litellm
    await resources.reconciler.run()
    [hold] = (await _health(portal))["safetyHolds"]
    await admin.data(CONFIRM, id=hold["id"])
    # Before the next pass, three more keys are lost: they were not confirmed.
    network.target = emulator
    later = [(await portal.create_key(["m1"], name=f"later{i}"))["apiKey"]["id"] for i in range(3)]
    network.target = empty_litellm

    report = await resources.reconciler.run()

    assert report.missing_keys_revoked == 3
    statuses = await _statuses(db_engine)
    assert {k: statuses[k] for k in first} == dict.fromkeys(first, ApiKeyStatus.REVOKED)
    assert {k: statuses[k] for k in later} == dict.fromkeys(later, ApiKeyStatus.ACTIVE)
    [new_hold] = (await _health(portal))["safetyHolds"]
    assert new_hold["id"] != hold["id"]
    assert (new_hold["count"], new_hold["total"], new_hold["confirmedAt"]) == (3, 6, None)
    # The old proposal cannot be confirmed again for the new change.
    stale = (await admin.data(CONFIRM, id=hold["id"]))["safetyHoldConfirm"]
    assert stale["code"] == "NOT_FOUND"


async def test_one_lost_key_among_many_is_still_repaired(
    portal: Portal, emulator: LiteLLMEmulator, resources: Resources, db_engine: AsyncEngine
) -> None:
    keys = await _keys_with_m1(portal, 4)
    lost = next(t for t, k in emulator.keys.items() if k.key_alias == keys[0])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator.app), base_url="http://litellm"
    ) as litellm:
        deleted = await litellm.post(
            "/key/delete",
            json={"keys": [lost]},
            headers={"Authorization": f"Bearer {EMULATOR_MASTER_KEY}"},
        )
    assert deleted.status_code == 200, deleted.text
    await _age(db_engine)

    report = await resources.reconciler.run()

    assert (report.missing_keys_revoked, report.held) == (1, [])
    assert (await _statuses(db_engine))[keys[0]] is ApiKeyStatus.REVOKED
    assert (await _health(portal))["safetyHolds"] == []


async def test_a_wrong_database_deletes_no_litellm_key(
    portal: Portal,
    client: httpx.AsyncClient,
    emulator: LiteLLMEmulator,
    resources: Resources,
    db_engine: AsyncEngine,
) -> None:
    await _keys_with_m1(portal, 3)
    tokens = set(emulator.keys)
    async with db_engine.begin() as conn:  # a database restored from before the keys existed
        await conn.execute(text("DELETE FROM api_keys"))

    report = await resources.reconciler.run()

    assert (report.orphan_litellm_keys_deleted, report.held) == (
        0,
        [safety.HoldKind.DELETE_ORPHAN_KEYS],
    )
    assert set(emulator.keys) == tokens
    [hold] = (await _health(portal))["safetyHolds"]
    assert (hold["kind"], hold["count"], hold["total"]) == ("DELETE_ORPHAN_KEYS", 3, 3)
    assert await _trips(client, safety.HoldKind.DELETE_ORPHAN_KEYS) == 1


async def test_a_hold_is_seen_by_every_worker_and_survives_a_restart(
    portal: Portal,
    network: SwitchableLiteLLM,
    empty_litellm: LiteLLMEmulator,
    resources: Resources,
    settings: Settings,
) -> None:
    await _keys_with_m1(portal, 2)
    network.target = empty_litellm
    await resources.reconciler.run()

    other = Resources.open(settings, litellm_transport=httpx.ASGITransport(app=empty_litellm.app))
    try:
        [hold] = await safety.list_holds(holds=other.safety_holds)
        report = await other.reconciler.run()
        [again] = await safety.list_holds(holds=other.safety_holds)
    finally:
        await other.close()
    assert hold.kind is safety.HoldKind.REVOKE_MISSING_KEYS
    assert report.held == [safety.HoldKind.REVOKE_MISSING_KEYS]
    assert (again.id, again.passes_held) == (hold.id, 2)


async def test_an_empty_model_list_retires_no_model(
    portal: Portal,
    client: httpx.AsyncClient,
    emulator: LiteLLMEmulator,
    resources: Resources,
    db_engine: AsyncEngine,
) -> None:
    for name in ("m1", "m2"):
        emulator.remove_model(name)

    result = await catalog.sync_models(
        models=resources.catalogue, litellm=resources.litellm, valve=resources.valve
    )

    assert result.unavailable == 0
    async with AsyncSession(db_engine) as session:
        models = {m.id: m.available for m in (await session.exec(select(Model))).all()}
    assert models == {"m1": True, "m2": True}
    health = await _health(portal)
    assert health["status"] == "DEGRADED"
    [hold] = health["safetyHolds"]
    assert (hold["kind"], hold["count"], hold["total"]) == ("RETIRE_MODELS", 2, 2)
    assert await _trips(client, safety.HoldKind.RETIRE_MODELS) == 1

    emulator.add_model("m1")
    emulator.add_model("m2")
    await catalog.sync_models(
        models=resources.catalogue, litellm=resources.litellm, valve=resources.valve
    )
    assert (await _health(portal))["safetyHolds"] == []


async def test_one_model_gone_among_several_is_retired(
    portal: Portal, emulator: LiteLLMEmulator, resources: Resources
) -> None:
    emulator.add_model("m3")
    await catalog.sync_models(
        models=resources.catalogue, litellm=resources.litellm, valve=resources.valve
    )
    emulator.remove_model("m2")

    result = await catalog.sync_models(
        models=resources.catalogue, litellm=resources.litellm, valve=resources.valve
    )

    assert result.unavailable == 1
    assert (await _health(portal))["safetyHolds"] == []


@pytest.mark.parametrize(
    ("count", "total", "held"),
    [
        (0, 0, False),
        (1, 1, True),  # every one of them, however few
        (2, 3, False),  # within the floor
        (3, 30, False),  # 10%
        (4, 30, True),  # over 10%
        (20, 1000, False),
        (21, 1000, True),  # over 20 at once
    ],
)
def test_bounds(count: int, total: int, held: bool) -> None:
    assert safety.beyond_bounds(count, total, make_settings()) is held


async def test_against_a_litellm_that_has_never_seen_the_keys(
    stack: Stack, db_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """The keys' rows point at a LiteLLM that lists none of them (a fresh proxy's view)."""
    caplog.set_level(logging.INFO)
    user_id = uuid.UUID(await stack.portal.login())
    before = utcnow()
    async with AsyncSession(db_engine) as session:
        keys = [
            ApiKey(
                user_id=user_id,
                name=f"k{i}",
                status=ApiKeyStatus.ACTIVE,
                secret_sha256=uuid.uuid4().hex * 2,
                created_at=before,
                updated_at=before,
            )
            for i in range(3)
        ]
        ids = [str(k.id) for k in keys]
        session.add_all(keys)
        await session.commit()

    report = await stack.resources.reconciler.run()

    assert safety.HoldKind.REVOKE_MISSING_KEYS in report.held
    # Any key on a shared proxy that some other database made is an orphan here: all held.
    assert (report.missing_keys_revoked, report.orphan_litellm_keys_deleted) == (0, 0)
    assert await _statuses(db_engine) == dict.fromkeys(ids, ApiKeyStatus.ACTIVE)
    health = (await stack.portal.data(HEALTH))["health"]
    assert health["status"] == "DEGRADED"
    hold = next(h for h in health["safetyHolds"] if h["kind"] == "REVOKE_MISSING_KEYS")
    assert (hold["count"], hold["total"]) == (3, 3)
    assert (
        recorded(
            stack.resources.metrics, "litemaas_safety_valve_trips_total", kind="revoke_missing_keys"
        )
        == 1
    )

    # Confirmed (by an administrator: the service call, as the mutation makes it).
    confirmed = await safety.confirm(
        holds=stack.resources.safety_holds, hold_id=uuid.UUID(hold["id"]), actor_id=user_id
    )
    assert isinstance(confirmed, safety.HoldRead)
    report = await stack.resources.reconciler.run()

    assert report.missing_keys_revoked == 3
    assert report.orphan_litellm_keys_deleted == 0
    assert await _statuses(db_engine) == dict.fromkeys(ids, ApiKeyStatus.REVOKED)


async def _age(db_engine: AsyncEngine) -> None:
    """Make every key row look older than the pass about to run."""
    async with db_engine.begin() as conn:
        await conn.execute(
            text("UPDATE api_keys SET updated_at = updated_at - interval '1 minute'")
        )


async def test_repointed_at_another_real_litellm_and_back(
    settings: Settings, db_engine: AsyncEngine
) -> None:
    """Keys made on one real proxy; the service then reads another (which never saw them), and
    the first again."""
    urls = [os.environ.get(url_var) for url_var, _ in REAL_PROXIES.values()]
    if not all(urls):
        pytest.skip("needs both real LiteLLM proxies (LITELLM_CONTRACT_URL and _URL_OLD)")
    first, other = (
        settings.model_copy(
            update={
                "litellm_url": url,
                "litellm_master_key": SecretStr(os.environ.get(key_var, "sk-peer-master")),
                # Every change held, whatever its size: nothing on the shared proxies (other
                # runs' keys look like orphans here) is ever deleted by this test.
                "safety_valve_floor": 0,
                "safety_valve_max_share": 0.0,
            }
        )
        for url, (_, key_var) in zip(urls, REAL_PROXIES.values(), strict=True)
    )
    app = create_app(first)
    async with serve(app) as client:
        portal = Portal(client)
        keys = await _keys_with_m1(portal, 2)
        resources: Resources = app.state.resources
        elsewhere = Resources.open(other)
        try:
            held = await elsewhere.reconciler.run()
        finally:
            await elsewhere.close()
        during = await _health(portal)
        back = await resources.reconciler.run()
        after = await _health(portal)
        for key_id in keys:
            await portal.revoke(key_id)

    assert safety.HoldKind.REVOKE_MISSING_KEYS in held.held
    assert (held.missing_keys_revoked, held.orphan_litellm_keys_deleted) == (0, 0)
    assert during["status"] == "DEGRADED"
    assert [
        (h["count"], h["total"])
        for h in during["safetyHolds"]
        if h["kind"] == "REVOKE_MISSING_KEYS"
    ] == [(2, 2)]
    assert (back.missing_keys_revoked, back.orphan_litellm_keys_deleted) == (0, 0)
    assert safety.HoldKind.REVOKE_MISSING_KEYS not in back.held
    assert "REVOKE_MISSING_KEYS" not in {h["kind"] for h in after["safetyHolds"]}


async def test_keys_an_operator_blocked_by_hand_stay_blocked(
    portal: Portal, emulator: LiteLLMEmulator, resources: Resources, db_engine: AsyncEngine
) -> None:
    keys = await _keys_with_m1(portal, 4)
    tokens = [t for t, k in emulator.keys.items() if k.key_alias in keys[:3]]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator.app), base_url="http://litellm"
    ) as litellm:
        for token in tokens:
            blocked = await litellm.post(
                "/key/block",
                json={"key": token},
                headers={"Authorization": f"Bearer {EMULATOR_MASTER_KEY}"},
            )
            assert blocked.status_code == 200, blocked.text
    await _age(db_engine)

    report = await resources.reconciler.run()

    # Their owners are active, but unblocking three of four keys at once is held.
    assert (report.keys_unblocked, report.held) == (0, [safety.HoldKind.UNBLOCK_KEYS])
    assert sorted(t for t, k in emulator.keys.items() if k.blocked) == sorted(tokens)
    [hold] = (await _health(portal))["safetyHolds"]
    assert (hold["kind"], hold["count"], hold["total"]) == ("UNBLOCK_KEYS", 3, 4)
