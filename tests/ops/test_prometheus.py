"""The service's metrics, alerts and dashboards on a real Prometheus (Debian's package).

`litemaas-bff dev` runs with two workers (metrics in multiprocess mode) against the LiteLLM
emulator served on its own loopback port, so the test can stop LiteLLM. Prometheus scrapes the
service every second and evaluates deploy/prometheus/alerts.yml every second: a copy in which
every `for:` is shortened to FOR_IN_TEST (the file itself keeps realistic durations, which the
promtool unit tests check). Traffic: a sign-in, a subscription, key creations and /authz
checks; then LiteLLM stops, and a key creation and a sign-in fail.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import scratch_postgres_database
from tests.frontend_contract.contract import persisted_query
from tests.ops.prometheus import RULES, alert_states, prometheus, query, value, wait_for
from tests.served import LOOPBACK, free_port, served

DASHBOARDS = Path(__file__).parents[2] / "deploy" / "grafana"
MASTER_KEY = "sk-ops-emulator-master"
FOR_IN_TEST = "3s"
KEYS = 3
AUTHZ_ROUNDS = 5  # each key against m1 (granted) and m2 (denied)
# Grafana's variables, as Grafana fills them for a range of hours with a 1 s scrape interval
# at most (the scenario's data is less than a minute old whenever a panel is evaluated).
GRAFANA_VARIABLES = {"$__rate_interval": "5m"}


@dataclass(frozen=True)
class Scenario:
    prometheus: str
    down_states: list[set[str]]  # the alert's states, polled from LiteLLM's stop to firing
    scraped_authz_counts: list[float]  # /authz's histogram count in several scrapes


@pytest.fixture(scope="module")
async def ops_database() -> AsyncIterator[str]:
    async with scratch_postgres_database("litemaas_ops") as url:
        yield url


@pytest.fixture(scope="module")
def scenario(ops_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    directory = tmp_path_factory.mktemp("prometheus")
    rules = directory / "alerts.yml"
    rules.write_text(
        re.sub(
            r"^(\s+)for: \S+$",
            rf"\1for: {FOR_IN_TEST}",
            (RULES / "alerts.yml").read_text(),
            flags=re.M,
        )
    )
    with _emulator() as emulator:
        env = {
            "DATABASE_URL": ops_database,
            "AUTH_MODE": "dev",
            "LITELLM_URL": f"http://{LOOPBACK}:{emulator.port}",
            "LITELLM_MASTER_KEY": MASTER_KEY,
            "WEB_CONCURRENCY": "2",
            "LITELLM_PROBE_INTERVAL_SECONDS": "0.5",
            "RECONCILE_INTERVAL_SECONDS": "1",
            "LITELLM_BREAKER_FAIL_MAX": "2",
        }
        with (
            served("dev", env, directory) as service,
            prometheus(directory, target=f"{LOOPBACK}:{service.port}", rule_files=[rules]) as url,
            httpx.Client(base_url=service.url, timeout=30) as browser,
        ):
            # A first scrape before the traffic: rates then start from zero.
            wait_for(
                "Prometheus scrapes the service",
                lambda: value(url, "sum(litemaas_authz_duration_seconds_count)") == 0,
            )
            secrets = _traffic(browser)
            total = KEYS * AUTHZ_ROUNDS * 2
            wait_for(
                "Prometheus scrapes every /authz check",
                lambda: value(url, "sum(litemaas_authz_duration_seconds_count)") == total,
            )
            counts = [_scraped_authz_count(service.url) for _ in range(6)]
            assert alert_states(url, "LitemaasLiteLLMDown") == set()

            emulator.stop()
            states: list[set[str]] = []
            # Calls that fail now: a key creation and another person's first sign-in.
            _create_key(browser, "after the stop")
            with httpx.Client(base_url=service.url, timeout=30) as latecomer:
                _dev_login(latecomer, "ops-late")

            def firing() -> bool:
                states.append(alert_states(url, "LitemaasLiteLLMDown"))
                return "firing" in states[-1]

            wait_for("LitemaasLiteLLMDown fires", firing, seconds=30)
            # A scrape after the failures, for the dashboards' error panels.
            time.sleep(2)
            assert secrets
            yield Scenario(prometheus=url, down_states=states, scraped_authz_counts=counts)


def test_litellm_down_goes_pending_then_firing(scenario: Scenario) -> None:
    seen = [s for s in scenario.down_states if s]
    assert seen[0] == {"pending"}, scenario.down_states
    assert seen[-1] == {"firing"}
    assert value(scenario.prometheus, "min(litemaas_litellm_up)") == 0
    assert (
        value(scenario.prometheus, 'max(litemaas_litellm_circuit_breaker_state{state="open"})') == 1
    )


def test_key_creations_and_authz_checks_are_in_the_histograms(scenario: Scenario) -> None:
    url = scenario.prometheus
    creations = 'litemaas_api_key_operation_duration_seconds_count{operation="create"}'
    assert value(url, f"sum({creations})") == KEYS + 1
    assert (
        value(url, 'sum(litemaas_api_key_operations_total{outcome="succeeded",operation="create"})')
        == KEYS
    )
    assert value(url, 'sum(litemaas_api_key_operations_total{outcome="litellm_unavailable"})') == 1
    total = KEYS * AUTHZ_ROUNDS * 2
    assert value(url, 'sum(litemaas_authz_duration_seconds_bucket{le="+Inf"})') == total
    quantile = value(
        url,
        "histogram_quantile(0.99, sum by (le) (rate(litemaas_authz_duration_seconds_bucket[5m])))",
    )
    assert quantile is not None
    assert 0 < quantile <= 2.5
    checks = "sum by (outcome) (litemaas_model_access_checks_total)"
    by_outcome = {r["metric"]["outcome"]: float(r["value"][1]) for r in query(url, checks)}
    assert by_outcome["granted"] == by_outcome["denied"] == total / 2
    # Two workers answered; every scrape, whichever worker served it, counts all checks.
    assert scenario.scraped_authz_counts == [total] * len(scenario.scraped_authz_counts)


def _dashboard_queries() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel["targets"]:
                found.append((path.stem, panel["title"], target["expr"]))
    return found


def test_there_are_the_three_dashboards() -> None:
    assert {board for board, _, _ in _dashboard_queries()} == {
        "integration-health",
        "keys-model-access",
        "sign-in-user-sync",
    }


@pytest.mark.parametrize(
    ("board", "panel", "expr"),
    _dashboard_queries(),
    ids=[f"{board}: {panel}" for board, panel, _ in _dashboard_queries()],
)
def test_every_dashboard_panel_evaluates_with_data(
    scenario: Scenario, board: str, panel: str, expr: str
) -> None:
    for variable, replacement in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, replacement)
    assert "$" not in expr, f"{board}/{panel}: a variable the test does not fill: {expr}"
    assert query(scenario.prometheus, expr), f"{board}/{panel}: no data for {expr}"


# -- the scenario's parts -------------------------------------------------------------------


@dataclass
class _Emulator:
    port: int
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


@contextmanager
def _emulator() -> Iterator[_Emulator]:
    """`python -m litellm_emulator` on a free loopback port, stopped by its process id."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "litellm_emulator", "--port", str(port), "--master-key", MASTER_KEY],
        env={**os.environ, "ENV": "development"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    emulator = _Emulator(port, process)
    try:
        wait_for(
            "the LiteLLM emulator answers",
            lambda: _answers(f"http://{LOOPBACK}:{port}/health/liveliness"),
            seconds=20,
        )
        yield emulator
    finally:
        emulator.stop()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _traffic(browser: httpx.Client) -> list[str]:
    _dev_login(browser, "ops")
    subscribed = _graphql(browser, "SubscriptionCreate", {"modelId": "m1"})
    assert subscribed["subscriptionCreate"]["__typename"] == "SubscriptionCreateSuccess"
    secrets = [_create_key(browser, f"key {n}") for n in range(KEYS)]
    assert all(secrets), "every key was created"
    for _ in range(AUTHZ_ROUNDS):
        for secret in secrets:
            for model, status in (("m1", 200), ("m2", 403)):
                answer = browser.get(
                    "/authz", params={"model": model}, headers={"Authorization": f"Bearer {secret}"}
                )
                assert answer.status_code == status, answer.text
    return [s for s in secrets if s]


def _dev_login(client: httpx.Client, username: str) -> None:
    response = client.post(
        "/auth/dev-login", json={"username": username, "email": f"{username}@example.com"}
    )
    assert response.status_code == 200, response.text


def _create_key(browser: httpx.Client, name: str) -> str | None:
    data = _graphql(browser, "ApiKeyCreate", {"input": {"name": name, "modelIds": ["m1"]}})
    created = data["apiKeyCreate"]
    secret: str | None = created.get("secret")
    return secret


def _graphql(client: httpx.Client, operation: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        "/graphql", json={"variables": variables, "extensions": persisted_query(operation)}
    )
    body = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def _scraped_authz_count(url: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    found = re.search(r"^litemaas_authz_duration_seconds_count (\S+)$", text, re.M)
    assert found is not None, text
    return float(found.group(1))
