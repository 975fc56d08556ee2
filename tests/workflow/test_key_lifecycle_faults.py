"""A fault at any step of updating or rotating a key: during an outage nothing changes on
either side; otherwise the failure is undone at once, or one reconciler pass later there is no
orphan LiteLLM key and no key that differs between the BFF and LiteLLM."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.models import ApiKey, ApiKeyModel, ApiKeyStatus, utcnow
from app.resources import Resources
from app.services.api_keys import KEY_ID_METADATA
from litellm_emulator import LiteLLMEmulator
from tests import documents
from tests.portal import Portal
from tests.workflow.faults import (  # noqa: F401  (fixtures: app, network, portal)
    FaultyNetwork,
    app_fixture,
    network_fixture,
    portal_fixture,
)


@dataclass(frozen=True)
class Side:
    """A key as one side holds it."""

    models: tuple[str, ...]
    max_budget: float | None
    name: str


async def _key(portal: Portal) -> tuple[str, str]:
    created = await portal.create_key(["m1"], name="laptop", maxBudget=5)
    return created["apiKey"]["id"], created["secret"]


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


async def _rows(db_engine: AsyncEngine) -> dict[uuid.UUID, tuple[ApiKey, tuple[str, ...]]]:
    async with AsyncSession(db_engine) as session:
        keys = (await session.exec(select(ApiKey))).all()
        links = (await session.exec(select(ApiKeyModel))).all()
    return {
        k.id: (k, tuple(sorted(link.model_id for link in links if link.api_key_id == k.id)))
        for k in keys
    }


async def _local(db_engine: AsyncEngine, key_id: str) -> tuple[ApiKey, Side]:
    row, models = (await _rows(db_engine))[uuid.UUID(key_id)]
    return row, Side(models, row.max_budget, row.name)


def _remote(emulator: LiteLLMEmulator, token: str | None) -> Side | None:
    key = emulator.keys.get(token or "")
    if key is None:
        return None
    return Side(tuple(sorted(key.models)), key.max_budget, str(key.metadata.get("name")))


async def assert_both_sides_agree(db_engine: AsyncEngine, emulator: LiteLLMEmulator) -> None:
    """Every active row matches its LiteLLM key, no change is left in flight, and every LiteLLM
    key the BFF made is a row's secret or its replaced secret within the grace period."""
    rows = await _rows(db_engine)
    allowed: set[str] = set()
    for row, models in rows.values():
        assert row.changing_since is None, row
        if row.status is not ApiKeyStatus.ACTIVE:
            continue
        assert row.secret_sha256 is not None
        assert _remote(emulator, row.secret_sha256) == Side(models, row.max_budget, row.name)
        allowed.add(row.secret_sha256)
        if row.previous_valid_until is not None and row.previous_valid_until > utcnow():
            allowed.add(row.previous_secret_sha256 or "")
    made_here = {t for t, k in emulator.keys.items() if KEY_ID_METADATA in k.metadata}
    assert made_here <= allowed, "an orphan LiteLLM key"


async def _age_changes(db_engine: AsyncEngine, resources: Resources) -> None:
    """Move every change in flight back past the grace period, as if it were abandoned."""
    past = utcnow() - timedelta(seconds=resources.settings.pending_key_grace_seconds + 60)
    async with db_engine.begin() as conn:
        await conn.execute(
            text("UPDATE api_keys SET changing_since = :t WHERE changing_since IS NOT NULL"),
            {"t": past},
        )


def _answer_500_after_applying(network: FaultyNetwork) -> Any:
    """Once: the next request is applied by LiteLLM, then answered with a 500."""

    async def fault(request: httpx.Request) -> httpx.Response:
        network.fault = None
        await network.inner.handle_async_request(request)  # LiteLLM applied it, then failed
        return httpx.Response(500, json={"error": {"message": "boom", "code": "500"}})

    return fault


def _time_out_after_applying(network: FaultyNetwork, emulator: LiteLLMEmulator) -> Any:
    async def fault(request: httpx.Request) -> httpx.Response:
        network.fault = None
        await network.inner.handle_async_request(request)
        emulator.faults.down = True  # and LiteLLM goes away before anything can be undone
        raise httpx.ReadTimeout("read timed out", request=request)

    return fault


# ---------------------------------------------------------------------------- outages


async def test_during_an_outage_update_and_rotate_change_nothing_on_either_side(
    portal: Portal, emulator: LiteLLMEmulator, db_engine: AsyncEngine
) -> None:
    key_id, _ = await _key(portal)
    row_before, local_before = await _local(db_engine, key_id)
    remote_before = _remote(emulator, row_before.secret_sha256)
    emulator.faults.down = True

    updated = await _update(portal, key_id, modelIds=["m1", "m2"], name="desk")
    rotated = await _rotate(portal, key_id, 60)

    assert (updated["__typename"], updated["code"]) == (
        "LitellmUnavailableError",
        "LITELLM_UNAVAILABLE",
    )
    assert (rotated["__typename"], rotated["code"]) == (
        "LitellmUnavailableError",
        "LITELLM_UNAVAILABLE",
    )
    row_after, local_after = await _local(db_engine, key_id)
    assert local_after == local_before
    assert (row_after.secret_sha256, row_after.previous_secret_sha256) == (
        row_before.secret_sha256,
        None,
    )
    assert row_after.changing_since is None
    emulator.faults.clear()
    assert _remote(emulator, row_before.secret_sha256) == remote_before
    assert len(emulator.keys) == 1
    await assert_both_sides_agree(db_engine, emulator)


# ---------------------------------------------------------------------------- update


async def test_update_answered_5xx_after_applying_is_undone_in_litellm(
    portal: Portal, network: FaultyNetwork, emulator: LiteLLMEmulator, db_engine: AsyncEngine
) -> None:
    key_id, _ = await _key(portal)
    network.fail_path, network.fault = "/key/update", _answer_500_after_applying(network)

    result = await _update(portal, key_id, modelIds=["m1", "m2"], maxBudget=9)

    assert result["code"] == "LITELLM_UNAVAILABLE"
    network.fault = None
    _, local = await _local(db_engine, key_id)
    assert local == Side(("m1",), 5, "laptop")
    await assert_both_sides_agree(db_engine, emulator)


async def test_update_timing_out_while_litellm_goes_away_is_repaired_by_the_reconciler(
    portal: Portal,
    network: FaultyNetwork,
    emulator: LiteLLMEmulator,
    resources: Resources,
    db_engine: AsyncEngine,
) -> None:
    key_id, _ = await _key(portal)
    network.fail_path, network.fault = "/key/update", _time_out_after_applying(network, emulator)

    result = await _update(portal, key_id, modelIds=["m1", "m2"])

    assert result["code"] == "LITELLM_UNAVAILABLE"
    row, local = await _local(db_engine, key_id)
    assert row.changing_since is not None  # LiteLLM has the change, the row not: repaired later
    assert local.models == ("m1",)
    assert _remote(emulator, row.secret_sha256) == Side(("m1", "m2"), 5, "laptop")
    again = await _update(portal, key_id, name="desk")
    assert (again["__typename"], again["code"]) == ("ValidationError", "VALIDATION_FAILED")

    network.fault = None
    emulator.faults.clear()
    young = await resources.reconciler.run()
    assert young.changes_repaired == 0  # a change may still be under way: left alone
    await _age_changes(db_engine, resources)
    report = await resources.reconciler.run()

    assert report.changes_repaired == 1
    assert (report.orphan_litellm_keys_deleted, report.missing_keys_revoked) == (0, 0)
    await assert_both_sides_agree(db_engine, emulator)
    _, local = await _local(db_engine, key_id)
    assert local.models == ("m1",)


@pytest.fixture
async def failing_key_writes(db_engine: AsyncEngine) -> AsyncIterator[None]:
    """PostgreSQL refuses to end a change of a key (storing an update or a rotation), as a
    database failing mid-flow would."""
    async with db_engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION refuse_key_change() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'injected database failure'; END $$ LANGUAGE plpgsql"
            )
        )
        await conn.execute(
            text(
                "CREATE TRIGGER refuse_key_change BEFORE UPDATE ON api_keys FOR EACH ROW "
                "WHEN (OLD.changing_since IS NOT NULL AND NEW.changing_since IS NULL) "
                "EXECUTE FUNCTION refuse_key_change()"
            )
        )
    yield
    await _allow_key_writes(db_engine)


async def _allow_key_writes(db_engine: AsyncEngine) -> None:
    async with db_engine.begin() as conn:
        await conn.execute(text("DROP TRIGGER IF EXISTS refuse_key_change ON api_keys"))
        await conn.execute(text("DROP FUNCTION IF EXISTS refuse_key_change()"))


@pytest.mark.usefixtures("failing_key_writes")
async def test_database_failing_to_store_an_update_restores_litellm_then_the_reconciler_ends_it(
    portal: Portal,
    emulator: LiteLLMEmulator,
    resources: Resources,
    db_engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key_id, _ = await _key(portal)

    body = await portal.gql(documents.API_KEY_UPDATE, id=key_id, input={"modelIds": ["m1", "m2"]})

    assert body["data"] is None
    assert body["errors"]
    # Ending the change could not be stored either: said, not swallowed.
    assert f"key {key_id} left changing for the reconciler: ending its change failed" in (
        caplog.text
    )
    row, local = await _local(db_engine, key_id)
    assert local == Side(("m1",), 5, "laptop")
    assert _remote(emulator, row.secret_sha256) == local  # undone in LiteLLM at once
    await _allow_key_writes(db_engine)
    await _age_changes(db_engine, resources)
    report = await resources.reconciler.run()
    assert report.changes_repaired == 1
    await assert_both_sides_agree(db_engine, emulator)


async def test_a_crash_between_litellm_and_the_row_is_repaired_by_the_reconciler(
    portal: Portal, emulator: LiteLLMEmulator, resources: Resources, db_engine: AsyncEngine
) -> None:
    key_id, _ = await _key(portal)
    row, _ = await _local(db_engine, key_id)
    # The process died after LiteLLM applied an update and before the row was written.
    began = await resources.api_keys.begin_change(
        row.id, user_id=row.user_id, model_ids=("m1", "m2")
    )
    assert began is not None
    assert row.secret_sha256 is not None
    await resources.litellm.key_update(
        key=row.secret_sha256,
        models=["m1", "m2"],
        max_budget=50,
        tpm_limit=None,
        rpm_limit=None,
        expires_at=None,
        metadata={KEY_ID_METADATA: key_id, "name": "desk"},
    )
    await _age_changes(db_engine, resources)

    report = await resources.reconciler.run()

    assert report.changes_repaired == 1
    await assert_both_sides_agree(db_engine, emulator)


# ---------------------------------------------------------------------------- rotate


async def test_rotate_answered_5xx_after_generating_deletes_the_new_key(
    portal: Portal, network: FaultyNetwork, emulator: LiteLLMEmulator, db_engine: AsyncEngine
) -> None:
    key_id, secret = await _key(portal)
    network.fail_path, network.fault = "/key/generate", _answer_500_after_applying(network)

    result = await _rotate(portal, key_id, 60)

    assert result["code"] == "LITELLM_UNAVAILABLE"
    network.fault = None
    assert len(emulator.keys) == 1
    row, _ = await _local(db_engine, key_id)
    assert row.prefix == secret[:8]
    await assert_both_sides_agree(db_engine, emulator)


async def test_rotate_timing_out_while_litellm_goes_away_is_repaired_by_the_reconciler(
    portal: Portal,
    network: FaultyNetwork,
    emulator: LiteLLMEmulator,
    resources: Resources,
    db_engine: AsyncEngine,
) -> None:
    key_id, secret = await _key(portal)
    network.fail_path, network.fault = "/key/generate", _time_out_after_applying(network, emulator)

    result = await _rotate(portal, key_id, 60)

    assert result["code"] == "LITELLM_UNAVAILABLE"
    assert len(emulator.keys) == 2  # the new key was made, never stored
    network.fault = None
    emulator.faults.clear()
    await _age_changes(db_engine, resources)
    report = await resources.reconciler.run()

    assert (report.changes_repaired, report.orphan_litellm_keys_deleted) == (1, 1)
    assert report.missing_keys_revoked == 0
    await assert_both_sides_agree(db_engine, emulator)
    row, _ = await _local(db_engine, key_id)
    assert row.prefix == secret[:8]
    check = await portal.client.get("/authz", params={"model": "m1"}, headers=_bearer(secret))
    assert check.status_code == 200


@pytest.mark.usefixtures("failing_key_writes")
async def test_database_failing_to_store_a_rotation_deletes_the_new_key(
    portal: Portal,
    emulator: LiteLLMEmulator,
    resources: Resources,
    db_engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key_id, secret = await _key(portal)

    body = await portal.gql(documents.API_KEY_ROTATE, id=key_id, input={"gracePeriodSeconds": 0})

    assert body["data"] is None
    assert body["errors"]
    assert f"key {key_id} left changing for the reconciler: ending its change failed" in (
        caplog.text
    )
    assert len(emulator.keys) == 1
    await _allow_key_writes(db_engine)
    await _age_changes(db_engine, resources)
    await resources.reconciler.run()
    await assert_both_sides_agree(db_engine, emulator)
    check = await portal.client.get("/authz", params={"model": "m1"}, headers=_bearer(secret))
    assert check.status_code == 200


async def test_litellm_failing_to_retire_the_old_secret_leaves_it_to_the_reconciler(
    portal: Portal,
    network: FaultyNetwork,
    emulator: LiteLLMEmulator,
    resources: Resources,
    db_engine: AsyncEngine,
) -> None:
    key_id, old = await _key(portal)

    async def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    network.fail_path, network.fault = "/key/delete", down

    result = await _rotate(portal, key_id, 0)

    assert result["__typename"] == "ApiKeyRotateSuccess"  # the new secret is not lost
    assert len(emulator.keys) == 2
    old_check = await portal.client.get("/authz", params={"model": "m1"}, headers=_bearer(old))
    assert old_check.status_code == 401  # no grace: refused here at once
    network.fault = None
    report = await resources.reconciler.run()

    assert report.orphan_litellm_keys_deleted == 1
    assert len(emulator.keys) == 1
    await assert_both_sides_agree(db_engine, emulator)
    row, _ = await _local(db_engine, key_id)
    assert row.previous_secret_sha256 is None


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
