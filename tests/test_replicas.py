"""Two `litemaas-bff serve` processes on one PostgreSQL, as two replicas behind one address.

One person's requests go to either replica, as a load balancer sends them: signing in on one,
creating and revoking keys on the other, reading and checking access on both. Both answer
alike, the shared background jobs run each pass in one replica only, and each replica's
metrics count what it served.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.background import DUE_SHARE
from app.db import migrate
from tests.auth.oidc_provider import CLIENT_ID, CLIENT_SECRET, running_oidc_provider
from tests.auth.oidc_provider import sign_in_at_provider as sign_in
from tests.conftest import EMULATOR_MASTER_KEY, scratch_postgres_database
from tests.frontend_contract.contract import persisted_query
from tests.served import LOOPBACK, Served, free_port, production_environment, served

# The address people use; the balancer below hands each request to one replica.
PUBLIC_URL = "https://litemaas.replicas.test"
RECONCILE_INTERVAL = 1.0
PASS_STARTED = "reconcile: pass started"


class Balancer(httpx.AsyncBaseTransport):
    """A load balancer in front of the replicas: `target` picks the replica of the next
    requests (TLS ends here, as at an ingress)."""

    def __init__(self, replicas: list[Served]) -> None:
        self.replicas = replicas
        self.target = 0
        self._network = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        replica = self.replicas[self.target]
        # The client keeps seeing the public https address (its cookies are for that).
        forwarded = httpx.Request(
            request.method,
            request.url.copy_with(scheme="http", host=LOOPBACK, port=replica.port),
            headers=request.headers,
            stream=request.stream,
        )
        return await self._network.handle_async_request(forwarded)

    async def aclose(self) -> None:
        await self._network.aclose()


@contextmanager
def litellm_emulator(cwd: Path) -> Iterator[str]:
    """`python -m litellm_emulator` in a process of its own, serving m1 and m2."""
    port = free_port()
    log = cwd / "litellm-emulator.log"
    with (
        log.open("wb") as out,
        subprocess.Popen(  # noqa: S603  (the repository's emulator)
            [sys.executable, "-m", "litellm_emulator", "--port", str(port)],
            env={"PATH": os.environ["PATH"]},
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        ) as process,
    ):
        url = f"http://{LOOPBACK}:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                try:
                    if httpx.get(f"{url}/health/liveliness", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=15)


@pytest.fixture
async def database() -> AsyncIterator[str]:
    async with scratch_postgres_database("litemaas_replicas") as url:
        engine = create_async_engine(url)
        await migrate.upgrade(engine)
        await engine.dispose()
        yield url


async def _graphql(
    client: httpx.AsyncClient, operation: str, bearer: str | None = None, **variables: Any
) -> dict[str, Any]:
    """A registered operation by its hash, as the frontend sends it in production."""
    response = await client.post(
        f"{PUBLIC_URL}/graphql",
        json={"extensions": persisted_query(operation), "variables": variables},
        headers={"Authorization": f"Bearer {bearer}"} if bearer else {},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body


async def _on_each(
    client: httpx.AsyncClient, balancer: Balancer, ask: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same request on the first replica and on the second."""
    answers = []
    for target in (0, 1):
        balancer.target = target
        answers.append(await ask())
    return answers[0], answers[1]


def _metric(text_format: str, name: str, labels: str) -> float:
    found = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text_format, re.M)
    assert found, f"{name}{{{labels}}} missing"
    return float(found[1])


async def test_two_replicas_on_one_database_answer_one_person_alike(
    database: str, tmp_path: Path
) -> None:
    async with running_oidc_provider([PUBLIC_URL]) as provider:
        with ExitStack() as stack:
            litellm_url = stack.enter_context(litellm_emulator(tmp_path))
            env = {
                **production_environment(database),
                "LITELLM_URL": litellm_url,
                "LITELLM_MASTER_KEY": EMULATOR_MASTER_KEY,
                "OIDC_ISSUER": provider.issuer,
                "OIDC_CLIENT_ID": CLIENT_ID,
                "OIDC_CLIENT_SECRET": CLIENT_SECRET,
                "OIDC_SCOPES": "openid profile email groups",
                "PUBLIC_URL": PUBLIC_URL,
                "RECONCILE_INTERVAL_SECONDS": str(RECONCILE_INTERVAL),
            }
            started = time.monotonic()
            replicas = [stack.enter_context(served("serve", env, tmp_path)) for _ in "ab"]
            balancer = Balancer(replicas)
            async with httpx.AsyncClient(mounts={PUBLIC_URL: balancer}) as client:
                await _scenario(client, balancer, replicas, started, database)


async def _scenario(
    client: httpx.AsyncClient,
    balancer: Balancer,
    replicas: list[Served],
    started: float,
    database: str,
) -> None:
    # Signed in on the first replica.
    balancer.target = 0
    callback = await sign_in(
        client,
        f"{PUBLIC_URL}/auth/login",
        login="ada",
        callback_url=f"{PUBLIC_URL}/auth/callback",
    )
    signed_in = await client.get(callback)
    assert signed_in.status_code == 302, signed_in.headers
    me = await _on_each(client, balancer, lambda: _graphql(client, "LoginState"))
    assert me[0] == me[1]
    assert me[0]["data"]["me"]["username"] == "ada"

    # Subscriptions and keys made on the second.
    balancer.target = 1
    for model in ("m1", "m2"):
        created = await _graphql(client, "SubscriptionCreate", modelId=model)
        assert created["data"]["subscriptionCreate"]["__typename"] == "SubscriptionCreateSuccess"
    keys = {}
    for name, models in (("only-m1", ["m1"]), ("both", ["m1", "m2"])):
        made = (await _graphql(client, "ApiKeyCreate", input={"name": name, "modelIds": models}))[
            "data"
        ]["apiKeyCreate"]
        assert made["__typename"] == "ApiKeyCreateSuccess", made
        keys[name] = made
    listed = await _on_each(client, balancer, lambda: _graphql(client, "MyApiKeys"))
    assert listed[0] == listed[1]
    assert {k["name"] for k in listed[0]["data"]["apiKeys"]} == {"only-m1", "both"}

    # Access checks on both, by /authz and by GraphQL.
    async def checks() -> dict[str, Any]:
        answers: dict[str, Any] = {}
        for name, key in keys.items():
            for model in ("m1", "m2"):
                authz = await client.get(
                    f"{PUBLIC_URL}/authz",
                    params={"model": model},
                    headers={"Authorization": f"Bearer {key['secret']}"},
                )
                access = await _graphql(
                    client, "ModelAccessCheck", bearer=key["secret"], model=model
                )
                answers[f"{name} {model}"] = (
                    authz.status_code,
                    authz.json(),
                    access["data"]["modelAccess"],
                )
        return answers

    before = await _on_each(client, balancer, checks)
    assert before[0] == before[1]
    assert {check: answer[0] for check, answer in before[0].items()} == {
        "only-m1 m1": 200,
        "only-m1 m2": 403,
        "both m1": 200,
        "both m2": 200,
    }

    # Revoked on the second: both refuse the key at once.
    balancer.target = 1
    revoked = await _graphql(client, "ApiKeyRevoke", id=keys["only-m1"]["apiKey"]["id"])
    assert revoked["data"]["apiKeyRevoke"]["__typename"] == "ApiKeyRevokeSuccess"
    after = await _on_each(client, balancer, checks)
    assert after[0] == after[1]
    assert after[0]["only-m1 m1"][0] == after[0]["only-m1 m2"][0] == 401
    assert after[0]["both m2"] == before[0]["both m2"]
    listed = await _on_each(client, balancer, lambda: _graphql(client, "MyApiKeys"))
    assert listed[0] == listed[1]

    # Metrics from both: each replica counts the checks it answered (half of them each).
    async with httpx.AsyncClient() as plain:
        scraped = [(await plain.get(f"{r.url}/metrics")).text for r in replicas]
    name = "litemaas_model_access_checks_total"
    granted = [_metric(s, name, 'outcome="granted"') for s in scraped]
    denied = [_metric(s, name, 'outcome="denied"') for s in scraped]
    invalid = [_metric(s, name, 'outcome="invalid_key"') for s in scraped]
    # Per replica: before the revocation 3 granted and 1 denied, after it 2 granted and 2
    # invalid, by /authz and by GraphQL each.
    assert granted == [10, 10]
    assert denied == [2, 2]
    assert invalid == [4, 4]

    # The reconciler ran one pass per interval in all: never twice for one interval.
    await _wait_for_passes(replicas, count=3)
    engine = create_async_engine(database)
    try:
        async with engine.connect() as conn:
            recorded = await conn.scalar(
                text("SELECT passes FROM job_runs WHERE name = 'reconcile'")
            )
    finally:
        await engine.dispose()
    elapsed = time.monotonic() - started
    logged = sum(r.log_text().count(PASS_STARTED) for r in replicas)
    assert abs(recorded - logged) <= 1  # a pass may start between the two reads
    per_replica = [r.log_text().count(PASS_STARTED) for r in replicas]
    assert recorded <= elapsed / (RECONCILE_INTERVAL * DUE_SHARE) + 1, (elapsed, per_replica)


async def _wait_for_passes(replicas: list[Served], *, count: int) -> None:
    deadline = time.monotonic() + 30
    while sum(r.log_text().count(PASS_STARTED) for r in replicas) < count:
        assert time.monotonic() < deadline, "the reconciler did not run"
        await asyncio.sleep(0.2)
