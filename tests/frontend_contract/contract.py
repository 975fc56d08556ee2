"""The frontend contract as files: operations, fragments, their scenarios, the error catalogue.

`frontend-contract/lib/contract.mjs` reads the same files and applies the same rules to
Apollo Client's results; keep the two in step.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    build_schema,
    get_named_type,
    parse,
    visit,
)

from app.settings import Settings

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "schema.graphql"
CONTRACT_DIR = REPO / "frontend-contract"
OPERATIONS_DIR = CONTRACT_DIR / "operations"
FRAGMENTS_DIR = CONTRACT_DIR / "fragments"
ERROR_MESSAGES_FILE = CONTRACT_DIR / "error-messages.json"

# Failures that stay in the response's top-level `errors` (DESIGN.md), not in `ErrorCode`.
TOP_LEVEL_ERROR_CODES = frozenset({"UNAUTHENTICATED", "FORBIDDEN"})
USER_ERROR = "UserError"
RESULT_SUFFIX = "Result"
_SCENARIO_KEYS = frozenset({"name", "signIn", "variables", "settings", "expect"})
_EXPECT_KEYS = frozenset({"data", "errors"})


@dataclass(frozen=True, slots=True)
class Scenario:
    """One request the page makes and what the service must answer."""

    name: str
    expect: dict[str, Any]
    variables: dict[str, Any]
    # The body POSTed to /auth/dev-login first; None for an anonymous visitor.
    sign_in: dict[str, Any] | None
    # Environment variables of the service under test, e.g. a database that is down.
    settings: dict[str, str]


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    path: Path
    # The operation followed by every fragment it uses: what a client sends.
    text: str
    scenarios: tuple[Scenario, ...]

    @property
    def document(self) -> DocumentNode:
        return parse(self.text)


@cache
def load_schema() -> GraphQLSchema:
    return build_schema(SCHEMA_FILE.read_text(encoding="utf-8"))


def load_fragments() -> dict[str, str]:
    """Fragment name -> its source; one fragment per file, named as the file."""
    fragments = {}
    for path in sorted(FRAGMENTS_DIR.glob("*.graphql")):
        source = path.read_text(encoding="utf-8")
        definitions = parse(source).definitions
        if len(definitions) != 1 or not isinstance(definitions[0], FragmentDefinitionNode):
            raise ValueError(f"{path.name}: a fragment file holds exactly one fragment")
        if definitions[0].name.value != path.stem:
            raise ValueError(f"{path.name}: the fragment must be named {path.stem}")
        fragments[path.stem] = source
    return fragments


def load_operations() -> list[Operation]:
    fragments = load_fragments()
    return [_load_operation(path, fragments) for path in sorted(OPERATIONS_DIR.glob("*.graphql"))]


def _load_operation(path: Path, fragments: dict[str, str]) -> Operation:
    source = path.read_text(encoding="utf-8")
    definitions = parse(source).definitions
    if len(definitions) != 1 or not isinstance(definitions[0], OperationDefinitionNode):
        raise ValueError(
            f"{path.name}: an operation file holds one operation; fragments go in fragments/"
        )
    if definitions[0].name is None or definitions[0].name.value != path.stem:
        raise ValueError(f"{path.name}: the operation must be named {path.stem}")
    used = sorted(_fragments_used(source, fragments))
    text = "\n".join([source, *(fragments[name] for name in used)])
    fixture = path.with_suffix(".json")
    if not fixture.exists():
        raise ValueError(f"{path.name}: add its scenarios in {fixture.name}")
    return Operation(path.stem, path, text, _load_scenarios(fixture))


def _fragments_used(source: str, fragments: dict[str, str]) -> set[str]:
    used: set[str] = set()
    pending = [source]
    while pending:
        for name in _spread_names(parse(pending.pop())) - used:
            if name not in fragments:
                raise ValueError(f"fragment {name} is not defined in fragments/")
            used.add(name)
            pending.append(fragments[name])
    return used


def _spread_names(document: DocumentNode) -> set[str]:
    names: set[str] = set()

    class Spreads(Visitor):
        def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> None:
            names.add(node.name.value)

    visit(document, Spreads())
    return names


def _load_scenarios(fixture: Path) -> tuple[Scenario, ...]:
    raw = json.loads(fixture.read_text(encoding="utf-8"))
    scenarios = raw.get("scenarios") if isinstance(raw, dict) else None
    if not scenarios:
        raise ValueError(f"{fixture.name}: expected {{'scenarios': [...]}} with at least one")
    return tuple(_scenario(fixture.name, item) for item in scenarios)


def _scenario(fixture: str, item: dict[str, Any]) -> Scenario:
    where = f"{fixture} / {item.get('name')!r}"
    if unknown := set(item) - _SCENARIO_KEYS:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    expect = item.get("expect")
    if not isinstance(expect, dict) or not expect or set(expect) - _EXPECT_KEYS:
        raise ValueError(f"{where}: `expect` holds `data` and/or `errors`")
    settings = item.get("settings", {})
    if unknown := {key.lower() for key in settings} - set(Settings.model_fields):
        raise ValueError(f"{where}: settings {sorted(unknown)} are not service settings")
    return Scenario(
        name=item["name"],
        expect=expect,
        variables=item.get("variables", {}),
        sign_in=item.get("signIn"),
        settings=settings,
    )


def load_error_messages() -> dict[str, dict[str, str]]:
    messages: dict[str, dict[str, str]] = json.loads(ERROR_MESSAGES_FILE.read_text("utf-8"))
    return messages


def mismatches(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Where `actual` differs from `expected`; objects in `actual` may hold more keys."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        problems = []
        for key, value in expected.items():
            if key in actual:
                problems += mismatches(value, actual[key], f"{path}.{key}")
            else:
                problems.append(f"{path}.{key}: missing")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {len(expected)} items, got {actual!r}"]
        return [
            problem
            for index, (item, got) in enumerate(zip(expected, actual, strict=True))
            for problem in mismatches(item, got, f"{path}[{index}]")
        ]
    # As in JavaScript, 1 and 1.0 are equal, but true is not 1.
    if isinstance(expected, bool) != isinstance(actual, bool) or expected != actual:
        return [f"{path}: expected {expected!r}, got {actual!r}"]
    return []


def result_union_problems(schema: GraphQLSchema, document: DocumentNode) -> list[str]:
    """Selections of a `...Result` union that lack `__typename` or `... on UserError`."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    type_info = TypeInfo(schema)
    problems: list[str] = []

    class ResultSelections(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            union = get_named_type(type_info.get_type())
            if not isinstance(union, GraphQLUnionType) or not union.name.endswith(RESULT_SUFFIX):
                return
            selected = set(_selected_fields(node.selection_set, fragments, union.name))
            missing = []
            if (union.name, "__typename") not in selected:
                missing.append("__typename")
            if not {(USER_ERROR, "code"), (USER_ERROR, "message")} <= selected:
                missing.append(f"... on {USER_ERROR} {{ code message }}")
            if missing:
                field = node.alias.value if node.alias else node.name.value
                problems.append(f"`{field}` ({union.name}) must select {' and '.join(missing)}")

    visit(document, TypeInfoVisitor(type_info, ResultSelections()))
    return problems


def _selected_fields(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    on_type: str,
) -> Iterator[tuple[str, str]]:
    """(type condition, field name) for every field selected, through fragments."""
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            yield on_type, selection.name.value
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            inner = condition.name.value if condition else on_type
            yield from _selected_fields(selection.selection_set, fragments, inner)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments[selection.name.value]
            condition_name = fragment.type_condition.name.value
            yield from _selected_fields(fragment.selection_set, fragments, condition_name)
