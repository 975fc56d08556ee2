"""Model-access enforcement as a run-time flag: `enforce | log-only | off` set by an admin,
stored in the database, followed by every process; the environment sets the initial value."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.applications import Starlette

from app.db.models import AuditEvent
from app.main import create_app
from app.settings import ModelAccessEnforcement, Settings
from litellm_emulator import LiteLLMEmulator
from tests import documents
from tests.conftest import serve
from tests.portal import Portal

ADMINS = ["litemaas-admins"]
MODES = {
    "ENFORCE": ModelAccessEnforcement.ENFORCE,
    "LOG_ONLY": ModelAccessEnforcement.LOG_ONLY,
    "OFF": ModelAccessEnforcement.OFF,
}


def _app(settings: Settings, emulator: LiteLLMEmulator, **overrides: Any) -> Starlette:
    return create_app(
        settings.model_copy(update=overrides),
        litellm_transport=httpx.ASGITransport(app=emulator.app),
    )


async def _set(portal: Portal, mode: str, reason: str = "rollout step") -> dict[str, Any]:
    result: dict[str, Any] = (
        await portal.data(
            documents.MODEL_ACCESS_ENFORCEMENT_UPDATE, input={"mode": mode, "reason": reason}
        )
    )["modelAccessEnforcementUpdate"]
    return result


async def _answers(client: httpx.AsyncClient, secret: str, model: str) -> tuple[Any, ...]:
    """What `modelAccess` and `/authz` answer for the key and the model (no session needed)."""
    headers = {"Authorization": f"Bearer {secret}"}
    graphql = await client.post(
        "/graphql",
        json={
            "query": "query($m: ID!) { modelAccess(model: $m) { __typename "
            "... on ModelAccessGranted { enforced } ... on UserError { code } } }",
            "variables": {"m": model},
        },
        headers=headers,
    )
    authz = await client.get("/authz", params={"model": model}, headers=headers)
    access = graphql.json()["data"]["modelAccess"]
    body = authz.json()
    return (
        access["__typename"],
        access.get("code", access.get("enforced")),
        authz.status_code,
        body.get("code", body.get("enforced")),
    )


async def _denial_audits(db_engine: AsyncEngine) -> int:
    async with AsyncSession(db_engine) as session:
        rows = await session.exec(
            select(AuditEvent).where(AuditEvent.action == "api_key.access_denied")
        )
        return len(rows.all())


EXPECTED = {
    # key lacks the model: (modelAccess type, code or enforced, /authz status, code or enforced)
    "ENFORCE": ("ModelAccessDeniedError", "MODEL_ACCESS_DENIED", 403, "MODEL_ACCESS_DENIED"),
    "LOG_ONLY": ("ModelAccessGranted", False, 200, False),
    "OFF": ("ModelAccessGranted", False, 200, False),
}


@pytest.mark.parametrize("mode", list(MODES))
async def test_each_mode_set_at_run_time_applies_to_authz_model_access_and_key_creation(
    mode: str,
    portal: Portal,
    client: httpx.AsyncClient,
    emulator: LiteLLMEmulator,
    db_engine: AsyncEngine,
    settings: Settings,
) -> None:
    # The environment says enforce; the admin changes it without a restart.
    assert settings.model_access_enforcement is ModelAccessEnforcement.ENFORCE
    await portal.login(groups=ADMINS)
    await portal.subscribe("m1")
    before = await _set(portal, "LOG_ONLY" if mode == "ENFORCE" else "ENFORCE")
    changed = await _set(portal, mode)
    created = await portal.create_key(["m1"])
    refused = await portal.create_key(["m1", "m2"], name="wants m2 without a subscription")

    lacking = await _answers(client, created["secret"], "m2")
    having = await _answers(client, created["secret"], "m1")

    assert before["__typename"] == changed["__typename"] == "ModelAccessEnforcementUpdateSuccess"
    assert changed["enforcement"]["mode"] == mode
    assert lacking == EXPECTED[mode]
    assert having == ("ModelAccessGranted", True, 200, True)
    # Would-be denials are audited under enforce and log-only, not under off.
    assert await _denial_audits(db_engine) == (0 if mode == "OFF" else 2)
    # Key creation never depends on the flag: a key only ever gets models subscribed to, and
    # LiteLLM gets exactly those (it enforces them itself, whatever the flag says).
    assert created["__typename"] == "ApiKeyCreateSuccess"
    assert refused["__typename"] == "ModelAccessDeniedError"
    assert refused["modelIds"] == ["m2"]
    [litellm_key] = emulator.keys.values()
    assert list(litellm_key.models) == ["m1"]


async def test_the_environment_sets_only_the_initial_value(
    settings: Settings, emulator: LiteLLMEmulator, db_engine: AsyncEngine
) -> None:
    log_only = _app(settings, emulator, model_access_enforcement=ModelAccessEnforcement.LOG_ONLY)
    async with serve(log_only) as client:
        admin = Portal(client)
        await admin.login(groups=ADMINS)
        initial = (await admin.data(documents.MODEL_ACCESS_ENFORCEMENT))["modelAccessEnforcement"]
        await _set(admin, "ENFORCE", reason="ready to enforce")
    # A restart with another value in the environment keeps what the admin set.
    off = _app(settings, emulator, model_access_enforcement=ModelAccessEnforcement.OFF)
    async with serve(off) as client:
        admin = Portal(client)
        await admin.login(groups=ADMINS)
        after_restart = (await admin.data(documents.MODEL_ACCESS_ENFORCEMENT))[
            "modelAccessEnforcement"
        ]
        applied = off.state.resources.enforcement.mode

    assert initial == {"mode": "LOG_ONLY", "updatedAt": None}
    assert after_restart["mode"] == "ENFORCE"
    assert after_restart["updatedAt"] is not None
    assert applied is ModelAccessEnforcement.ENFORCE


async def test_every_process_follows_a_change_within_its_refresh_interval(
    settings: Settings, emulator: LiteLLMEmulator
) -> None:
    refresh = 0.5
    apps = [
        _app(settings, emulator, model_access_enforcement_refresh_seconds=refresh) for _ in "ab"
    ]
    async with AsyncExitStack() as stack:
        first, second = [await stack.enter_async_context(serve(app)) for app in apps]
        admin = Portal(first)
        await admin.login(groups=ADMINS)
        await admin.subscribe("m1")
        secret = (await admin.create_key(["m1"]))["secret"]
        assert (await _answers(second, secret, "m2"))[2] == 403

        await _set(admin, "OFF", reason="a gateway misbehaves")
        changed_at = time.monotonic()
        # The process that made the change follows it at once.
        assert (await _answers(first, secret, "m2"))[2] == 200
        while (await _answers(second, secret, "m2"))[2] != 200:
            assert time.monotonic() - changed_at < 10, "the other process did not follow"
            await asyncio.sleep(0.05)
        followed_after = time.monotonic() - changed_at

    # Within one refresh interval (plus the time of a round of requests on a busy machine).
    assert followed_after < refresh + 2


async def test_the_change_is_audited_with_the_admin_the_values_and_the_reason(
    portal: Portal, db_engine: AsyncEngine
) -> None:
    admin_id = await portal.login(groups=ADMINS)
    await _set(portal, "LOG_ONLY", reason="rollout: watch the would-be denials first")

    async with AsyncSession(db_engine) as session:
        [event] = (
            await session.exec(
                select(AuditEvent).where(AuditEvent.action == "runtime_setting.update")
            )
        ).all()
    assert str(event.actor_id) == admin_id
    assert event.resource_id == "model_access_enforcement"
    assert event.details == {
        "before": None,
        "after": "log-only",
        "reason": "rollout: watch the would-be denials first",
    }


@pytest.mark.parametrize("reason", ["", "  ", "line\nbreak", "x" * 256])
async def test_a_change_needs_a_printable_reason(
    portal: Portal, db_engine: AsyncEngine, reason: str
) -> None:
    await portal.login(groups=ADMINS)

    result = await _set(portal, "OFF", reason=reason)
    now = (await portal.data(documents.MODEL_ACCESS_ENFORCEMENT))["modelAccessEnforcement"]

    assert (result["__typename"], result["code"], result["field"]) == (
        "ValidationError",
        "VALIDATION_FAILED",
        "reason",
    )
    assert now == {"mode": "ENFORCE", "updatedAt": None}


@pytest.mark.parametrize(
    ("groups", "may_read"), [(None, False), (["litemaas-readonly"], True)], ids=["user", "reader"]
)
async def test_only_admins_change_it_and_readers_read_it(
    portal: Portal, groups: list[str] | None, may_read: bool
) -> None:
    await portal.login(groups=groups)

    update = await portal.gql(
        documents.MODEL_ACCESS_ENFORCEMENT_UPDATE, input={"mode": "OFF", "reason": "because"}
    )
    read = await portal.gql(documents.MODEL_ACCESS_ENFORCEMENT)

    assert update["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    if may_read:
        assert read["data"]["modelAccessEnforcement"]["mode"] == "ENFORCE"
    else:
        assert read["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_signed_out_callers_are_asked_to_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={
            "query": documents.MODEL_ACCESS_ENFORCEMENT_UPDATE,
            "variables": {"input": {"mode": "OFF", "reason": "because"}},
        },
    )

    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_without_the_database_at_start_the_environment_decides(
    settings: Settings, emulator: LiteLLMEmulator
) -> None:
    app = _app(
        settings,
        emulator,
        database_url="postgresql://nobody@127.0.0.1:1/nothing",
        model_access_enforcement=ModelAccessEnforcement.LOG_ONLY,
    )
    async with serve(app):
        mode = app.state.resources.enforcement.mode

    assert mode is ModelAccessEnforcement.LOG_ONLY
