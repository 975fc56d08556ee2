"""A fault at any step of key creation leaves no LiteLLM key without an active row, and no
active row without its LiteLLM key - at once, or after the reconciler."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.models import ApiKey, ApiKeyModel, ApiKeyStatus, User, utcnow
from app.resources import Resources
from app.services.api_keys import KEY_ID_METADATA
from litellm_emulator import LiteLLMEmulator
from tests.portal import Portal
from tests.scrape import recorded
from tests.workflow.faults import (  # noqa: F401  (fixtures: app, network, portal)
    FaultyNetwork,
    app_fixture,
    network_fixture,
    portal_fixture,
)

REPAIRS = "litemaas_reconciler_repairs_total"
KEY_OPERATIONS = "litemaas_api_key_operations_total"
CREATION_SECONDS = "litemaas_api_key_operation_duration_seconds"


async def _rows(db_engine: AsyncEngine) -> list[ApiKey]:
    async with AsyncSession(db_engine) as session:
        return list((await session.exec(select(ApiKey))).all())


def _litellm_aliases(emulator: LiteLLMEmulator) -> list[str | None]:
    return [k.key_alias for k in emulator.keys.values()]


async def test_litellm_down_at_create_is_unavailable_and_leaves_nothing(
    portal: Portal, emulator: LiteLLMEmulator, db_engine: AsyncEngine
) -> None:
    emulator.faults.down = True

    result = await portal.create_key(["m1"])

    assert (result["__typename"], result["code"]) == (
        "LitellmUnavailableError",
        "LITELLM_UNAVAILABLE",
    )
    assert await _rows(db_engine) == []
    assert emulator.keys == {}


async def test_litellm_5xx_at_generate_cleans_up_both_sides(
    portal: Portal, network: FaultyNetwork, emulator: LiteLLMEmulator, db_engine: AsyncEngine
) -> None:
    async def answer_500_after_creating(request: httpx.Request) -> httpx.Response:
        await network.inner.handle_async_request(request)  # LiteLLM made the key, then failed
        return httpx.Response(500, json={"error": {"message": "boom", "code": "500"}})

    network.fail_path, network.fault = "/key/generate", answer_500_after_creating

    result = await portal.create_key(["m1"])

    assert result["code"] == "LITELLM_UNAVAILABLE"
    assert await _rows(db_engine) == []
    assert emulator.keys == {}  # found by its alias and deleted


async def test_timeout_at_generate_with_litellm_then_gone_is_repaired_by_the_reconciler(
    portal: Portal,
    network: FaultyNetwork,
    emulator: LiteLLMEmulator,
    resources: Resources,
    db_engine: AsyncEngine,
) -> None:
    async def create_then_time_out(request: httpx.Request) -> httpx.Response:
        await network.inner.handle_async_request(request)
        emulator.faults.down = True  # and LiteLLM goes away before the clean-up
        raise httpx.ReadTimeout("read timed out", request=request)

    network.fail_path, network.fault = "/key/generate", create_then_time_out

    result = await portal.create_key(["m1"])

    assert result["code"] == "LITELLM_UNAVAILABLE"
    [pending] = await _rows(db_engine)
    assert pending.status is ApiKeyStatus.PENDING
    assert _litellm_aliases(emulator) == [str(pending.id)]
    assert await portal.keys() == []  # a key being repaired is not shown

    emulator.faults.clear()
    network.fault = None
    await _age_rows(db_engine, resources)
    report = await resources.reconciler.run()

    assert report.pending_keys_removed == 1
    assert await _rows(db_engine) == []
    assert emulator.keys == {}
    metrics = resources.metrics
    assert recorded(metrics, REPAIRS, kind="pending_key_removed") == 1
    assert recorded(metrics, REPAIRS, kind="orphan_key_deleted") == 0
    assert recorded(metrics, KEY_OPERATIONS, operation="create", outcome="litellm_unavailable") == 1
    assert recorded(metrics, KEY_OPERATIONS, operation="create", outcome="succeeded") == 0
    assert recorded(metrics, CREATION_SECONDS + "_count", operation="create") == 1


async def test_litellm_refusing_generate_deletes_the_pending_row(
    portal: Portal, network: FaultyNetwork, emulator: LiteLLMEmulator, db_engine: AsyncEngine
) -> None:
    async def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400, json={"error": {"message": "bad", "type": "bad_request_error", "code": "400"}}
        )

    network.fail_path, network.fault = "/key/generate", refuse

    result = await portal.create_key(["m1"])

    assert (result["__typename"], result["code"]) == ("ValidationError", "VALIDATION_FAILED")
    assert await _rows(db_engine) == []
    assert emulator.keys == {}


@pytest.fixture
async def failing_activation(db_engine: AsyncEngine) -> AsyncIterator[None]:
    """PostgreSQL itself refuses to activate a key, as a database failing mid-flow would."""
    async with db_engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION refuse_activation() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'injected database failure'; END $$ LANGUAGE plpgsql"
            )
        )
        await conn.execute(
            text(
                "CREATE TRIGGER refuse_activation BEFORE UPDATE ON api_keys FOR EACH ROW "
                "WHEN (NEW.status = 'active') EXECUTE FUNCTION refuse_activation()"
            )
        )
    yield
    async with db_engine.begin() as conn:
        await conn.execute(text("DROP TRIGGER refuse_activation ON api_keys"))
        await conn.execute(text("DROP FUNCTION refuse_activation()"))


@pytest.mark.usefixtures("failing_activation")
async def test_database_error_after_generate_deletes_the_litellm_key(
    portal: Portal, emulator: LiteLLMEmulator, db_engine: AsyncEngine
) -> None:
    body = await portal.gql(
        "mutation($input: ApiKeyCreateInput!) { apiKeyCreate(input: $input) { __typename } }",
        input={"name": "k", "modelIds": ["m1"]},
    )

    assert body["data"] is None
    assert body["errors"][0]["message"]
    assert emulator.keys == {}
    assert [r for r in await _rows(db_engine) if r.status is ApiKeyStatus.ACTIVE] == []


async def test_reconciler_repairs_what_a_crash_left(
    portal: Portal, emulator: LiteLLMEmulator, resources: Resources, db_engine: AsyncEngine
) -> None:
    live = await portal.create_key(["m1"], name="k0")
    live_id = uuid.UUID(live["apiKey"]["id"])
    user_id = (await _rows(db_engine))[0].user_id
    litellm = resources.litellm
    # 1. A crash between generate and activate: a pending row, and its key in LiteLLM.
    async with AsyncSession(db_engine, expire_on_commit=False) as session:
        crashed = ApiKey(user_id=user_id, name="crashed", status=ApiKeyStatus.PENDING)
        session.add(crashed)
        session.add(ApiKeyModel(api_key_id=crashed.id, model_id="m1"))
        await session.commit()
    await litellm.key_generate(key_alias=str(crashed.id), user_id=str(user_id), models=["m1"])
    # 2. A LiteLLM key made for a row that never got written.
    orphan_alias = str(uuid.uuid4())
    await litellm.key_generate(
        key_alias=orphan_alias,
        user_id=str(user_id),
        models=["m1"],
        metadata={KEY_ID_METADATA: orphan_alias},
    )
    # 3. An active key whose LiteLLM key vanished.
    vanished = await portal.create_key(["m1"], name="vanished")
    [vanished_token] = [
        t for t, k in emulator.keys.items() if k.key_alias == vanished["apiKey"]["id"]
    ]
    await litellm.key_delete(keys=[vanished_token])
    # 4. Keys LiteLLM holds that the BFF did not make: left alone, even with a UUID alias.
    await litellm.key_generate(key_alias="made-by-hand", user_id="ops", models=["m2"])
    foreign_alias = str(uuid.uuid4())
    await litellm.key_generate(key_alias=foreign_alias, user_id="ops", models=["m2"])
    await _age_rows(db_engine, resources)

    report = await resources.reconciler.run()

    assert (report.pending_keys_removed, report.orphan_litellm_keys_deleted) == (1, 1)
    assert report.missing_keys_revoked == 1
    assert sorted(a or "" for a in _litellm_aliases(emulator)) == sorted(
        [str(live_id), "made-by-hand", foreign_alias]
    )
    statuses = {r.name: r.status for r in await _rows(db_engine)}
    assert statuses == {"k0": ApiKeyStatus.ACTIVE, "vanished": ApiKeyStatus.REVOKED}


async def test_a_young_pending_row_is_left_to_finish(
    portal: Portal, emulator: LiteLLMEmulator, resources: Resources, db_engine: AsyncEngine
) -> None:
    async with AsyncSession(db_engine, expire_on_commit=False) as session:
        user = (await session.exec(select(User))).one()
        in_flight = ApiKey(user_id=user.id, name="in flight", status=ApiKeyStatus.PENDING)
        session.add(in_flight)
        await session.commit()
    await resources.litellm.key_generate(
        key_alias=str(in_flight.id), user_id=str(user.id), models=["m1"]
    )

    report = await resources.reconciler.run()

    assert (report.pending_keys_removed, report.orphan_litellm_keys_deleted) == (0, 0)
    assert _litellm_aliases(emulator) == [str(in_flight.id)]


async def _age_rows(db_engine: AsyncEngine, resources: Resources) -> None:
    """Move every key row back in time past the pending grace period."""
    past = utcnow() - timedelta(seconds=resources.settings.pending_key_grace_seconds + 60)
    async with db_engine.begin() as conn:
        await conn.execute(
            text("UPDATE api_keys SET created_at = :t, updated_at = :t"), {"t": past}
        )
