"""deploy/prometheus/alerts.yml: valid for promtool, unit-tested, each alert with its runbook
section; the rules and the dashboards name only metrics the service exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import httpx

from tests.ops.prometheus import PROMTOOL, RULES, require

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs" / "operations.md"
ALERTS = RULES / "alerts.yml"
UNIT_TESTS = RULES / "alerts.test.yml"
DASHBOARDS = ROOT / "deploy" / "grafana"
_METRIC = re.compile(r"\blitemaas_[a-z_]+")
_SUFFIX = re.compile(r"_(bucket|count|sum|total)$")


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (Debian's promtool, our own files)
        [require(PROMTOOL), *args], capture_output=True, text=True, timeout=120, check=False
    )


def _alerts() -> list[str]:
    return re.findall(r"^\s+- alert: (\w+)$", ALERTS.read_text(), re.M)


def test_promtool_checks_the_rules() -> None:
    result = _promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in result.stdout


def test_promtool_unit_tests_pass_and_cover_every_alert() -> None:
    result = _promtool("test", "rules", str(UNIT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    tested = set(re.findall(r"alertname: (\w+)", UNIT_TESTS.read_text()))
    assert tested == set(_alerts())


def test_every_alert_links_its_runbook_section() -> None:
    anchors = {_anchor(h) for h in re.findall(r"^#+ (.+)$", DOCS.read_text(), re.M)}
    links = re.findall(r"runbook_url: docs/operations\.md#(\S+)", ALERTS.read_text())
    assert links == [alert.lower() for alert in _alerts()]
    assert set(links) <= anchors, set(links) - anchors


async def test_the_rules_and_dashboards_name_only_metrics_the_service_exports(
    client: httpx.AsyncClient,
) -> None:
    """A renamed metric would leave an alert that never fires and a panel that stays empty."""
    text = (await client.get("/metrics")).text
    exported = {_SUFFIX.sub("", name) for name in re.findall(r"^# TYPE (\S+) ", text, re.M)}
    texts = [ALERTS.read_text()] + [
        target["expr"]
        for path in DASHBOARDS.glob("*.json")
        for panel in json.loads(path.read_text())["panels"]
        for target in panel["targets"]
    ]
    named = {_SUFFIX.sub("", name) for text in texts for name in _METRIC.findall(text)}
    assert len(named) > 10
    assert named <= exported, named - exported


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
