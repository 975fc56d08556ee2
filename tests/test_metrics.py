"""What the service records in its metrics (app/metrics.py), read from its registry or /metrics."""

from __future__ import annotations

import httpx
import pytest

from app.failures import Failure, FailureCode
from app.litellm.errors import LiteLLMUnavailable
from app.metrics import KeyOperation, Metrics
from app.resources import Resources
from litellm_emulator import LiteLLMEmulator
from tests.frontend_contract.contract import persisted_query
from tests.scrape import recorded, sample

KEY_OPERATIONS = "litemaas_api_key_operations_total"
GRAPHQL = "litemaas_graphql_operations_total"
LITELLM = "litemaas_litellm_requests_total"


async def test_a_key_operation_is_counted_by_outcome_and_timed() -> None:
    metrics = Metrics()

    async def succeed() -> str:
        return "created"

    async def refuse() -> Failure:
        return Failure(FailureCode.KEY_LIMIT_REACHED, "too many")

    async def crash() -> None:
        raise RuntimeError("bug")

    assert await metrics.key_operation(KeyOperation.ROTATE, succeed()) == "created"
    refused = await metrics.key_operation(KeyOperation.ROTATE, refuse())
    with pytest.raises(RuntimeError, match="bug"):
        await metrics.key_operation(KeyOperation.UPDATE, crash())

    assert isinstance(refused, Failure)
    assert recorded(metrics, KEY_OPERATIONS, operation="rotate", outcome="succeeded") == 1
    assert recorded(metrics, KEY_OPERATIONS, operation="rotate", outcome="key_limit_reached") == 1
    assert recorded(metrics, KEY_OPERATIONS, operation="update", outcome="error") == 1
    duration = "litemaas_api_key_operation_duration_seconds_count"
    assert recorded(metrics, duration, operation="rotate") == 2
    assert recorded(metrics, duration, operation="update") == 1


async def test_graphql_operations_are_labelled_by_registered_name_or_other(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    requests = [
        {"extensions": persisted_query("ModelCatalogue")},  # registered, by id
        {"query": "query Mine { __typename }", "operationName": "Mine"},  # not registered
        *({"query": f"query Q{n} {{ __typename }}", "operationName": f"Q{n}"} for n in range(20)),
        {"query": "{ apiKeys { id } }"},  # runs, answers with an error (not signed in)
        {"query": "{ nope"},  # never runs
    ]
    for body in requests:
        assert (await client.post("/graphql", json=body)).status_code == 200

    text = (await client.get("/metrics")).text
    assert sample(text, GRAPHQL, operation="ModelCatalogue", outcome="ok") == 1
    assert sample(text, GRAPHQL, operation="other", outcome="ok") == 21
    assert sample(text, GRAPHQL, operation="other", outcome="error") == 1
    assert sample(text, GRAPHQL, operation="other", outcome="refused") == 1
    operations = {
        line.split('operation="')[1].split('"')[0]
        for line in text.splitlines()
        if line.startswith(GRAPHQL)
    }
    assert operations == {"ModelCatalogue", "other"}
    count = "litemaas_graphql_operation_duration_seconds_count"
    assert sample(text, count, operation="other") == 23


async def test_litellm_calls_are_counted_by_endpoint_and_outcome(
    client: httpx.AsyncClient, resources: Resources, emulator: LiteLLMEmulator
) -> None:
    metrics = resources.metrics
    fail_max = resources.settings.litellm_breaker_fail_max
    sent = "litemaas_litellm_request_duration_seconds_count"
    # The start-up catalogue sync called /model/info already.
    ok_before = recorded(metrics, LITELLM, endpoint="/model/info", outcome="ok")
    sent_before = recorded(metrics, sent, endpoint="/model/info")
    await resources.litellm.model_info()
    emulator.faults.down = True
    for _ in range(fail_max + 1):
        with pytest.raises(LiteLLMUnavailable):
            await resources.litellm.model_info()

    assert recorded(metrics, LITELLM, endpoint="/model/info", outcome="ok") == ok_before + 1
    assert recorded(metrics, LITELLM, endpoint="/model/info", outcome="unavailable") == fail_max
    assert recorded(metrics, LITELLM, endpoint="/model/info", outcome="breaker_open") == 1
    assert recorded(metrics, sent, endpoint="/model/info") == sent_before + 1 + fail_max
    text = (await client.get("/metrics")).text
    assert sample(text, "litemaas_litellm_circuit_breaker_state", state="open") == 1
    assert sample(text, "litemaas_litellm_circuit_breaker_state", state="closed") == 0
    assert sample(text, "litemaas_litellm_consecutive_failures") == fail_max
