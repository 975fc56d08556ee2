"""`modelAccess` and `/authz`: may the API key in `Authorization: Bearer` call a model?"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.applications import Starlette

from app.db.models import AuditEvent, utcnow
from app.main import create_app
from app.settings import ModelAccessEnforcement, Settings
from litellm_emulator import LiteLLMEmulator
from tests import documents
from tests.conftest import serve
from tests.portal import Portal
from tests.scrape import recorded


async def _key_for_m1(portal: Portal) -> dict[str, Any]:
    await portal.login()
    await portal.subscribe("m1")
    created: dict[str, Any] = await portal.create_key(["m1"])
    return created


async def _check(client: httpx.AsyncClient, secret: str | None, model: str) -> tuple[Any, ...]:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    graphql = await client.post(
        "/graphql",
        json={"query": documents.MODEL_ACCESS, "variables": {"model": model}},
        headers=headers,
    )
    authz = await client.get("/authz", params={"model": model}, headers=headers)
    result = graphql.json()["data"]["modelAccess"]
    return result["__typename"], result.get("code"), authz.status_code, authz.json().get("code")


async def test_granted_and_denied(portal: Portal, client: httpx.AsyncClient) -> None:
    secret = (await _key_for_m1(portal))["secret"]
    client.cookies.clear()  # the check needs no session, only the key
    anonymous = client

    assert await _check(anonymous, secret, "m1") == ("ModelAccessGranted", None, 200, None)
    assert await _check(anonymous, secret, "m2") == (
        "ModelAccessDeniedError",
        "MODEL_ACCESS_DENIED",
        403,
        "MODEL_ACCESS_DENIED",
    )
    granted = (
        await anonymous.post(
            "/graphql",
            json={"query": documents.MODEL_ACCESS, "variables": {"model": "m1"}},
            headers={"Authorization": f"Bearer {secret}"},
        )
    ).json()["data"]["modelAccess"]
    assert (
        granted["__typename"],
        granted["model"]["id"],
        [m["id"] for m in granted["allowedModels"]],
    ) == ("ModelAccessGranted", "m1", ["m1"])
    authz = await anonymous.get(
        "/authz", params={"model": "m1"}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert authz.json() == {
        "allowed": True,
        "model": "m1",
        "allowedModels": ["m1"],
        "enforced": True,
    }


@pytest.mark.parametrize("secret", [None, "sk-not-a-key-we-made"])
async def test_missing_or_unknown_key_is_invalid(
    client: httpx.AsyncClient, secret: str | None
) -> None:
    assert await _check(client, secret, "m1") == (
        "InvalidApiKeyError",
        "INVALID_API_KEY",
        401,
        "INVALID_API_KEY",
    )


async def test_revoked_key_is_invalid(portal: Portal, client: httpx.AsyncClient) -> None:
    created = await _key_for_m1(portal)
    await portal.revoke(created["apiKey"]["id"])

    assert (await _check(client, created["secret"], "m1"))[0::2] == ("InvalidApiKeyError", 401)


async def test_expired_key_is_invalid(
    portal: Portal, client: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    created = await _key_for_m1(portal)
    async with db_engine.begin() as conn:
        await conn.execute(
            text("UPDATE api_keys SET expires_at = :t"), {"t": utcnow() - timedelta(seconds=1)}
        )

    assert (await _check(client, created["secret"], "m1"))[0::2] == ("InvalidApiKeyError", 401)


async def test_authz_needs_a_model(client: httpx.AsyncClient) -> None:
    response = await client.get("/authz", headers={"Authorization": "Bearer sk-x"})

    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_FAILED"


@pytest.fixture
def log_only_app(settings: Settings, emulator: LiteLLMEmulator) -> Starlette:
    log_only = settings.model_copy(
        update={"model_access_enforcement": ModelAccessEnforcement.LOG_ONLY}
    )
    return create_app(log_only, litellm_transport=httpx.ASGITransport(app=emulator.app))


@pytest.fixture
async def log_only_client(log_only_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(log_only_app) as client:
        yield client


async def test_log_only_grants_but_records_the_would_be_denial(
    log_only_app: Starlette, log_only_client: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    secret = (await _key_for_m1(Portal(log_only_client)))["secret"]

    result = await _check(log_only_client, secret, "m2")
    authz = await log_only_client.get(
        "/authz", params={"model": "m2"}, headers={"Authorization": f"Bearer {secret}"}
    )

    assert result == ("ModelAccessGranted", None, 200, None)
    assert authz.json()["enforced"] is False
    async with AsyncSession(db_engine) as session:
        denials = (
            await session.exec(
                select(AuditEvent).where(AuditEvent.action == "api_key.access_denied")
            )
        ).all()
    assert len(denials) == 3  # GraphQL and /authz in _check, and /authz again
    assert {d.details["model_id"] for d in denials} == {"m2"}
    assert all(d.success is False and "secret" not in str(d.details) for d in denials)
    metrics = log_only_app.state.resources.metrics
    assert recorded(metrics, "litemaas_model_access_checks_total", outcome="would_be_denied") == 3
