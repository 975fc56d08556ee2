from __future__ import annotations

import httpx

from app.main import create_app
from litellm_emulator import LiteLLMEmulator
from tests import documents
from tests.conftest import EMULATOR_MASTER_KEY, EMULATOR_URL, make_settings, serve
from tests.portal import Portal
from tests.scrape import sample


async def test_health_reports_ok_with_database_latency(portal: Portal) -> None:
    body = await portal.gql(documents.HEALTH)

    assert "errors" not in body
    health = body["data"]["health"]
    database = health["database"]
    assert (health["status"], database["status"], database["error"]) == ("OK", "OK", None)
    assert 0 < database["latencyMs"] < 5000


async def test_health_reports_down_when_the_database_is_unreachable(
    emulator: LiteLLMEmulator,
) -> None:
    # Nothing listens on port 1: connecting fails at once. LiteLLM is up.
    settings = make_settings(
        database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none",
        litellm_url=EMULATOR_URL,
        litellm_master_key=EMULATOR_MASTER_KEY,
    )
    app = create_app(settings, litellm_transport=httpx.ASGITransport(app=emulator.app))
    async with serve(app) as client:
        response = await client.post("/graphql", json={"query": documents.HEALTH})
        ready = await client.get("/readyz")

    health = response.json()["data"]["health"]
    assert health["status"] == "DOWN"
    assert health["database"]["status"] == "DOWN"
    assert health["database"]["error"]
    assert ready.status_code == 503


async def test_probes_answer(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).text == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": "ok"}


async def test_metrics_count_access_checks_and_show_the_breaker(
    portal: Portal, client: httpx.AsyncClient
) -> None:
    await portal.login()
    await client.get("/authz", params={"model": "m1"}, headers={"Authorization": "Bearer sk-x"})

    response = await client.get("/metrics")

    assert response.status_code == 200
    text = response.text
    assert sample(text, "litemaas_model_access_checks_total", outcome="invalid_key") == 1
    assert sample(text, "litemaas_model_access_checks_total", outcome="granted") == 0
    assert sample(text, "litemaas_litellm_user_syncs_total", outcome="succeeded") == 1
    assert sample(text, "litemaas_sign_ins_total", outcome="succeeded") == 1
    assert sample(text, "litemaas_sign_in_duration_seconds_count") == 1
    assert sample(text, "litemaas_authz_duration_seconds_count") == 1
    assert sample(text, "litemaas_litellm_circuit_breaker_state", state="closed") == 1
    assert sample(text, "litemaas_litellm_circuit_breaker_state", state="open") == 0
    assert sample(text, "litemaas_litellm_up") == 1
