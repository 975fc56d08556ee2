"""requirements.lock pins every dependency pyproject.toml names, at a version it allows."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def _pins() -> dict[str, str]:
    text = (REPO / "requirements.lock").read_text()
    return {canonicalize_name(name): version for name, version in PIN.findall(text)}


def _declared() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return [Requirement(name) for name in names]


def test_every_declared_dependency_is_pinned_at_an_allowed_version() -> None:
    pins = _pins()
    stale = [
        str(requirement)
        for requirement in _declared()
        if canonicalize_name(requirement.name) not in pins
        or pins[canonicalize_name(requirement.name)] not in requirement.specifier
    ]

    assert not stale, f"requirements.lock does not satisfy {stale}: run `make lock`"


def test_every_pin_carries_hashes() -> None:
    text = (REPO / "requirements.lock").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.strip())

    assert len(entries) == len(_pins())
    assert all("--hash=sha256:" in entry for entry in entries)


def test_the_runtime_lock_pins_the_runtime_dependencies_as_the_full_lock_does() -> None:
    """requirements-runtime.lock (what the container image installs) is the runtime part of
    requirements.lock: same versions, hashes, and none of the development tools."""
    text = (REPO / "requirements-runtime.lock").read_text()
    runtime = {canonicalize_name(name): version for name, version in PIN.findall(text)}
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    pins = _pins()

    assert declared <= set(runtime), "run `make lock`"
    assert {name: pins.get(name) for name in runtime} == runtime
    # The test and lint tools stay out (some dev extras, PyYAML, are runtime dependencies too).
    assert not {"pytest", "mypy", "ruff", "hypothesis", "playwright"} & set(runtime)
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.strip())
    assert all("--hash=sha256:" in entry for entry in entries)
