"""Debian's Prometheus (and promtool) in tests: a server of its own on a free loopback port,
with its data in the test's temporary directory, stopped by its process id."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.served import LOOPBACK, free_port

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
RULES = Path(__file__).parents[2] / "deploy" / "prometheus"


def require(tool: str) -> str:
    """The tool's path; the test fails (never skips) without it: `make test` installs it."""
    if not Path(tool).exists():
        pytest.fail(f"{tool} is missing: `make test` (or .ci/run) installs Debian's prometheus")
    return tool


@contextmanager
def prometheus(
    directory: Path, *, target: str, rule_files: list[Path], interval: str = "1s"
) -> Iterator[str]:
    """Prometheus scraping `target` (host:port) and evaluating `rule_files` every `interval`;
    its URL while the context is open."""
    port = free_port()
    config = directory / "prometheus.yml"
    config.write_text(
        "global:\n"
        f"  scrape_interval: {interval}\n"
        f"  evaluation_interval: {interval}\n"
        "rule_files:\n" + "".join(f"  - {path}\n" for path in rule_files) + "scrape_configs:\n"
        "  - job_name: litemaas-bff\n"
        "    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )
    log = directory / "prometheus.log"
    url = f"http://{LOOPBACK}:{port}"
    with (
        log.open("wb") as out,
        subprocess.Popen(  # noqa: S603 (Debian's prometheus, our own arguments)
            [
                require(PROMETHEUS),
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address={LOOPBACK}:{port}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        ) as process,
    ):
        try:
            deadline = time.monotonic() + 30
            while not _ready(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"Prometheus did not start:\n{log.read_text()}")
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=15)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def query(url: str, promql: str) -> list[dict[str, Any]]:
    """An instant query's vector; AssertionError on a query error."""
    response = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=10)
    body = response.json()
    assert body.get("status") == "success", f"{promql}: {body}"
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def value(url: str, promql: str) -> float | None:
    """The single value of an instant query, or None when it has no result."""
    result = query(url, promql)
    assert len(result) <= 1, f"{promql}: more than one series: {result}"
    return float(result[0]["value"][1]) if result else None


def alert_states(url: str, name: str) -> set[str]:
    """The states (`pending`, `firing`) of the alert's active instances."""
    body = httpx.get(f"{url}/api/v1/alerts", timeout=10).json()
    return {a["state"] for a in body["data"]["alerts"] if a["labels"]["alertname"] == name}


def wait_for(what: str, condition: Any, *, seconds: float = 30) -> None:
    """Poll `condition()` until it is true; fail with `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.25)
