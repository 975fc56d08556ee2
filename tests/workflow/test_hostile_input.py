"""Input an attacker or a careless client sends: refused with VALIDATION_FAILED and the field,
before anything is written, audited, logged raw, or sent to LiteLLM."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.models import ApiKey, AuditEvent, Subscription
from app.db.repositories import audit
from litellm_emulator import LiteLLMEmulator
from tests import documents
from tests.portal import Portal

API_KEY_CREATE_LITERAL = """mutation { apiKeyCreate(input: {name: "k", modelIds: ["m1"], %s}) {
  __typename ... on ValidationError { code field } } }"""


async def _rows(db_engine: AsyncEngine, table: type[Any]) -> list[Any]:
    async with AsyncSession(db_engine) as session:
        return list((await session.exec(select(table))).all())


async def _audit_actions(db_engine: AsyncEngine) -> list[str]:
    return [e.action for e in await _rows(db_engine, AuditEvent)]


@pytest.fixture
async def secret(portal: Portal) -> str:
    """A key for m1, its owner signed out: /authz is asked by a gateway holding only the key."""
    await portal.login()
    await portal.subscribe("m1")
    created: str = (await portal.create_key(["m1"]))["secret"]
    portal.client.cookies.clear()
    return created


# /authz -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "model=m2&model=m1",  # last-wins would grant m1's answer for a request naming m2
        "model=m1&model=m1",
        "model=m1&model=",
        "model=" + "m" * 256,  # longer than models.id
        "model=" + "x" * 60_000,
        "model=m2%0A2026-01-01%20INFO%20access%20granted",  # a forged log line
        "model=m1%00",
        "model=m2%1B%5B2J",  # a terminal escape
    ],
)
async def test_authz_refuses_a_repeated_long_or_control_character_model(
    secret: str,
    client: httpx.AsyncClient,
    db_engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
    query: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    audited = await _audit_actions(db_engine)

    response = await client.get(f"/authz?{query}", headers={"Authorization": f"Bearer {secret}"})

    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["allowed"], body["code"], body["field"]) == (False, "VALIDATION_FAILED", "model")
    assert len(response.content) < 300  # the value is not echoed
    assert await _audit_actions(db_engine) == audited  # nothing audited
    assert "access granted" not in caplog.text
    assert "\x1b" not in caplog.text
    assert "\x00" not in caplog.text


async def test_model_access_refuses_a_long_or_control_character_model(
    secret: str, client: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    audited = await _audit_actions(db_engine)
    for model in ("x" * 60_000, "m2\nforged", "m1\x00"):
        answer = await client.post(
            "/graphql",
            json={"query": documents.MODEL_ACCESS, "variables": {"model": model}},
            headers={"Authorization": f"Bearer {secret}"},
        )
        result = answer.json()["data"]["modelAccess"]
        assert (result["__typename"], result["code"]) == ("ValidationError", "VALIDATION_FAILED")
    assert await _audit_actions(db_engine) == audited


async def test_a_denied_model_is_logged_escaped_and_audited_once(
    secret: str,
    client: httpx.AsyncClient,
    db_engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    odd = "m2 INFO model access granted: key"  # printable, but shaped like a log message

    response = await client.get(
        "/authz", params={"model": odd}, headers={"Authorization": f"Bearer {secret}"}
    )

    assert response.status_code == 403
    [line] = [r.getMessage() for r in caplog.records if "model access denied" in r.getMessage()]
    assert repr(odd) in line  # quoted: where the value starts and ends is plain
    [event] = [e for e in await _rows(db_engine, AuditEvent) if e.action.endswith("denied")]
    assert event.details["model_id"] == odd


async def test_audit_details_are_bounded_for_every_caller(db_engine: AsyncEngine) -> None:
    async with AsyncSession(db_engine) as session:
        audit.record(
            session,
            actor_id=None,
            action="test.large",
            resource_type="test",
            details={"value": "x" * 60_000, "items": ["y" * 1000] * 1000},
        )
        audit.record(
            session,
            actor_id=None,
            action="test.wide",
            resource_type="test",
            details={f"field{i}": "z" * 200 for i in range(100)},
        )
        await session.commit()

    large, wide = sorted(await _rows(db_engine, AuditEvent), key=lambda e: e.action)
    assert len(orjson.dumps(large.details)) <= audit.MAX_DETAILS_BYTES
    assert len(orjson.dumps(wide.details)) <= audit.MAX_DETAILS_BYTES
    assert wide.details["truncated"] is True


# apiKeyCreate and subscriptionCreate --------------------------------------------------------


@pytest.fixture
async def subscribed(portal: Portal, emulator: LiteLLMEmulator) -> Portal:
    await portal.login()
    await portal.subscribe("m1")
    return portal


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("maxBudget: 1e400", "maxBudget"),  # parses to infinity
        ("maxBudget: -1e400", "maxBudget"),
        ("maxBudget: 1e12", "maxBudget"),
        ("maxBudget: -0.01", "maxBudget"),
        ("tpmLimit: -5", "tpmLimit"),
        ("tpmLimit: 2000000000", "tpmLimit"),
        ("rpmLimit: 2147483647", "rpmLimit"),
        ('expiresAt: "9999-12-31T23:59:00-14:00"', "expiresAt"),  # past the end of time in UTC
    ],
)
async def test_out_of_range_numbers_write_nothing(
    subscribed: Portal, emulator: LiteLLMEmulator, db_engine: AsyncEngine, extra: str, field: str
) -> None:
    calls = len(emulator.requests)

    result = (await subscribed.data(API_KEY_CREATE_LITERAL % extra))["apiKeyCreate"]

    assert result == {"__typename": "ValidationError", "code": "VALIDATION_FAILED", "field": field}
    assert await _rows(db_engine, ApiKey) == []
    assert len(emulator.requests) == calls  # LiteLLM was not called


@pytest.mark.parametrize("extra", ["tpmLimit: 9223372036854775808", "rpmLimit: 2147483648"])
async def test_integers_beyond_graphql_int_are_refused_before_running(
    subscribed: Portal, emulator: LiteLLMEmulator, db_engine: AsyncEngine, extra: str
) -> None:
    calls = len(emulator.requests)

    body = await subscribed.gql(API_KEY_CREATE_LITERAL % extra)

    assert body.get("data") is None
    assert "Int cannot represent" in body["errors"][0]["message"]
    assert await _rows(db_engine, ApiKey) == []
    assert len(emulator.requests) == calls


async def test_infinity_in_variables_writes_nothing(
    subscribed: Portal, emulator: LiteLLMEmulator, db_engine: AsyncEngine
) -> None:
    calls = len(emulator.requests)
    payload = (
        b'{"query": %s, "variables": {"input": {"name": "k", "modelIds": ["m1"], '
        b'"maxBudget": 1e400}}}' % orjson.dumps(documents.API_KEY_CREATE)
    )

    response = await subscribed.client.post(
        "/graphql", content=payload, headers={"content-type": "application/json"}
    )

    # The JSON reader refuses a number it cannot hold, before any resolver runs.
    assert response.status_code == 400
    assert await _rows(db_engine, ApiKey) == []
    assert len(emulator.requests) == calls


@pytest.mark.parametrize(
    ("request_input", "field"),
    [
        ({"name": "laptop\x00", "modelIds": ["m1"]}, "name"),
        ({"name": "lap\ntop", "modelIds": ["m1"]}, "name"),
        ({"name": "lap\u2028top", "modelIds": ["m1"]}, "name"),
        ({"name": "k" * 256, "modelIds": ["m1"]}, "name"),
        ({"name": "laptop", "modelIds": ["m1\x00"]}, "modelIds"),
        ({"name": "laptop", "modelIds": ["m" * 256]}, "modelIds"),
    ],
)
async def test_control_characters_in_key_input_write_nothing(
    subscribed: Portal,
    emulator: LiteLLMEmulator,
    db_engine: AsyncEngine,
    request_input: dict[str, Any],
    field: str,
) -> None:
    calls = len(emulator.requests)
    payload = json.dumps({"query": documents.API_KEY_CREATE, "variables": {"input": request_input}})

    response = await subscribed.client.post(
        "/graphql", content=payload, headers={"content-type": "application/json"}
    )

    result = response.json()["data"]["apiKeyCreate"]
    assert (result["__typename"], result["code"], result["field"]) == (
        "ValidationError",
        "VALIDATION_FAILED",
        field,
    )
    assert await _rows(db_engine, ApiKey) == []
    assert len(emulator.requests) == calls


SUBSCRIBE = """mutation S($modelId: ID!) { subscriptionCreate(input: {modelId: $modelId}) {
  __typename ... on ValidationError { code field } ... on UserError { code } } }"""


@pytest.mark.parametrize("model_id", ["m1\x00", "m1\n", "m" * 256, "x" * 60_000])
async def test_control_characters_in_a_subscription_write_nothing(
    portal: Portal, emulator: LiteLLMEmulator, db_engine: AsyncEngine, model_id: str
) -> None:
    await portal.login()
    calls = len(emulator.requests)

    result = (await portal.data(SUBSCRIBE, modelId=model_id))["subscriptionCreate"]

    assert result == {
        "__typename": "ValidationError",
        "code": "VALIDATION_FAILED",
        "field": "modelId",
    }
    assert await _rows(db_engine, Subscription) == []
    assert len(emulator.requests) == calls
