"""The LiteLLM contract targets: the emulator, always, and real proxies when configured.

Every case runs once per target, with the ids `[emulator]`, `[litellm-1.108.7]` and
`[litellm-1.80.7]`. Real proxies come from the environment:

    LITELLM_CONTRACT_URL      + LITELLM_CONTRACT_MASTER_KEY      a LiteLLM 1.108.7
    LITELLM_CONTRACT_URL_OLD  + LITELLM_CONTRACT_MASTER_KEY_OLD  a LiteLLM 1.80.7

Users are global in a real proxy: every case makes its own ids and deletes what it made.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.litellm.breaker import CircuitBreaker
from app.litellm.client import LiteLLMClient
from app.litellm.monitor import LiteLLMMonitor
from app.metrics import Metrics
from litellm_emulator import LiteLLMEmulator
from litellm_emulator.server import EmulatorServer

CURRENT = "1.108.7"  # the release the emulator answers as
OLD = "1.80.7"  # the newest release answering 200 for unknown users
MODELS = ("m1", "m2")  # what the real proxies in ../shared/litellm-peer serve
EMULATOR_MASTER_KEY = "sk-contract-emulator-master"
MODEL_COSTS = {"input_cost_per_token": 0.001, "output_cost_per_token": 0.002}


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    release: str
    url: str
    master_key: str
    emulator: LiteLLMEmulator | None = None


_REAL_TARGETS = {
    f"litellm-{CURRENT}": (CURRENT, "LITELLM_CONTRACT_URL", "LITELLM_CONTRACT_MASTER_KEY"),
    f"litellm-{OLD}": (OLD, "LITELLM_CONTRACT_URL_OLD", "LITELLM_CONTRACT_MASTER_KEY_OLD"),
}
TARGET_NAMES = ["emulator", *_REAL_TARGETS]


@pytest.fixture(scope="session")
async def served_emulator() -> AsyncIterator[tuple[LiteLLMEmulator, str]]:
    """The emulator behind uvicorn on a free loopback port: the contract speaks real HTTP."""
    emulator = LiteLLMEmulator(master_key=EMULATOR_MASTER_KEY, models=MODELS)
    for name in MODELS:  # priced as in litellm-config.yaml, which the real proxies run with
        emulator.add_model(name, MODEL_COSTS)
    async with EmulatorServer(emulator) as url:
        yield emulator, url


@pytest.fixture(scope="session", params=TARGET_NAMES)
def target(request: pytest.FixtureRequest) -> Target:
    if request.param == "emulator":
        emulator, url = request.getfixturevalue("served_emulator")
        return Target("emulator", CURRENT, url, EMULATOR_MASTER_KEY, emulator)
    release, url_var, key_var = _REAL_TARGETS[request.param]
    url = os.environ.get(url_var)
    if not url:
        pytest.skip(f"{url_var} is not set: no real LiteLLM {release} to run the contract against")
    master_key = os.environ.get(key_var)
    if not master_key:
        pytest.fail(f"{url_var} is set but {key_var} is not")
    try:
        httpx.get(f"{url}/health/liveliness", timeout=10)
    except httpx.TransportError as exc:
        pytest.fail(f"{url_var}={url} does not answer: {exc!r}")
    return Target(request.param, release, url, master_key)


@dataclass
class Proxy:
    """One case's view of a target: master-key HTTP, unique ids, and cleanup of what it made."""

    target: Target
    http: httpx.AsyncClient
    user_ids: list[str] = field(default_factory=list)

    @property
    def current(self) -> bool:
        """Whether the target answers as LiteLLM 1.108.7 (the emulator must)."""
        return self.target.release == CURRENT

    @property
    def master(self) -> dict[str, str]:
        return bearer(self.target.master_key)

    def new_user_id(self) -> str:
        user_id = f"contract-{uuid.uuid4().hex[:16]}"
        self.user_ids.append(user_id)
        return user_id

    async def user_new(self, **body: Any) -> dict[str, Any]:
        body.setdefault("user_id", self.new_user_id())
        body.setdefault("auto_create_key", False)
        response = await self.http.post("/user/new", json=body, headers=self.master)
        assert response.status_code == 200, response.text
        created: dict[str, Any] = response.json()
        return created

    async def key_generate(self, **body: Any) -> dict[str, Any]:
        """A key for `user_id` (a fresh id when not given) that the case may use."""
        if "user_id" not in body:
            body["user_id"] = self.new_user_id()
        response = await self.http.post("/key/generate", json=body, headers=self.master)
        assert response.status_code == 200, response.text
        generated: dict[str, Any] = response.json()
        return generated

    async def chat(self, key: str, model: str, path: str = "/chat/completions") -> httpx.Response:
        return await self.http.post(
            path,
            json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
            headers=bearer(key),
        )

    async def clean_up(self) -> None:
        for user_id in self.user_ids:
            listed = await self.http.get(
                "/key/list", params={"user_id": user_id, "size": 100}, headers=self.master
            )
            tokens = listed.json()["keys"]
            if tokens:
                await self.http.post("/key/delete", json={"keys": tokens}, headers=self.master)
            await self.http.post("/user/delete", json={"user_ids": [user_id]}, headers=self.master)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def proxy(target: Target) -> AsyncIterator[Proxy]:
    async with httpx.AsyncClient(base_url=target.url, timeout=10) as http:
        proxy = Proxy(target, http)
        yield proxy
        await proxy.clean_up()


@pytest.fixture
async def litellm_client(target: Target) -> AsyncIterator[LiteLLMClient]:
    """The BFF's LiteLLM client, pointed at the target with its master key."""
    breaker = CircuitBreaker(name="litellm", fail_max=5, reset_timeout=timedelta(seconds=30))
    async with httpx.AsyncClient(
        base_url=target.url, headers=bearer(target.master_key), timeout=10
    ) as http:
        yield LiteLLMClient(http=http, breaker=breaker, monitor=LiteLLMMonitor(), metrics=Metrics())


def litellm_error(response: httpx.Response) -> dict[str, Any]:
    """The `error` object of LiteLLM's envelope, checking the envelope's shape on the way."""
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert {"message", "type", "param", "code"} <= set(error), error
    assert error["code"] == str(response.status_code), error
    return error


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per target: how many contract cases ran against it, or why none did."""
    counts: dict[str, dict[str, int]] = {name: {} for name in TARGET_NAMES}
    reasons: dict[str, str] = {}
    for outcome, reports in terminalreporter.stats.items():
        for report in reports:
            nodeid = getattr(report, "nodeid", "")
            if "tests/contract/" not in nodeid or getattr(report, "when", "call") == "teardown":
                continue
            name = next((n for n in TARGET_NAMES if f"[{n}" in nodeid or f"-{n}]" in nodeid), None)
            if name is None or not outcome:
                continue
            counts[name][outcome] = counts[name].get(outcome, 0) + 1
            if outcome == "skipped" and isinstance(report.longrepr, tuple):
                reasons[name] = str(report.longrepr[2]).removeprefix("Skipped: ")
    if not any(counts.values()):
        return
    terminalreporter.section("LiteLLM contract targets")
    for name, outcomes in counts.items():
        if not outcomes:
            continue
        summary = ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items()))
        line = f"{name}: {summary}"
        if set(outcomes) == {"skipped"}:
            line = f"contract run against {name} skipped: {reasons.get(name, '?')}"
        terminalreporter.write_line(line)
