"""One name per thing, and tests that use only what the service makes public."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The LiteLLM emulator is a program of its own, modelled on LiteLLM's names.
OWN_CODE = [p for p in (ROOT / "app").rglob("*.py") if "litellm_emulator" not in p.parts]


def test_each_class_of_the_service_has_a_name_of_its_own() -> None:
    defined: dict[str, list[str]] = defaultdict(list)
    for path in OWN_CODE:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                defined[node.name].append(str(path.relative_to(ROOT)))
    assert len(OWN_CODE) > 50, "the walk found too little to prove anything"
    assert {name: paths for name, paths in defined.items() if len(paths) > 1} == {}


def private_names_reached(source: str) -> list[str]:
    """`_name`s of app modules a test module imports or reads as attributes."""
    tree = ast.parse(source)
    app_names: set[str] = set()
    reached: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("app"):
            for alias in node.names:
                app_names.add(alias.asname or alias.name)
                if alias.name.startswith("_"):
                    reached.append(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("app"):
                    app_names.add((alias.asname or alias.name).split(".")[0])
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in app_names:
                reached.append(ast.unparse(node))
    return reached


def test_the_check_finds_private_names() -> None:
    source = "from app.db import reader\nfrom app.x import _y\nreader._compile(1)\n"
    assert private_names_reached(source) == ["app.x._y", "reader._compile"]


def test_tests_reach_no_private_names_of_the_service() -> None:
    reached = {
        str(path.relative_to(ROOT)): found
        for path in (ROOT / "tests").rglob("*.py")
        if "node_modules" not in path.parts and (found := private_names_reached(path.read_text()))
    }
    assert reached == {}
