"""The frontend contract as files: operations, fragments, their scenarios, the error catalogue.

`frontend-contract/lib/contract.mjs` reads the same files and applies the same rules to
Apollo Client's results; keep the two in step.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
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

from app.auth.routes import LOGIN_ERROR_CODES, UNSUPPORTED_MEDIA_TYPE
from app.failures import DATABASE_UNAVAILABLE
from app.graphql import trusted_documents, view
from app.graphql.schema import INTERNAL_SERVER_ERROR
from app.http.body_limit import REQUEST_TOO_LARGE
from app.settings import Settings

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "schema.graphql"
CONTRACT_DIR = REPO / "frontend-contract"
OPERATIONS_DIR = CONTRACT_DIR / "operations"
FRAGMENTS_DIR = CONTRACT_DIR / "fragments"
ERROR_MESSAGES_FILE = CONTRACT_DIR / "error-messages.json"
PERSISTED_DOCUMENTS_FILE = CONTRACT_DIR / "persisted-documents.json"

# Failures that stay in the response's top-level `errors` (DESIGN.md), not in `ErrorCode`:
# refusals, and failures the client did not cause; and a request refused before GraphQL.
TOP_LEVEL_ERROR_CODES = frozenset(
    {"UNAUTHENTICATED", "FORBIDDEN", DATABASE_UNAVAILABLE, INTERNAL_SERVER_ERROR}
    # Requests that never reach execution: refused documents, malformed requests.
    | {
        trusted_documents.PERSISTED_QUERY_NOT_FOUND,
        trusted_documents.PERSISTED_QUERY_ID_REQUIRED,
        view.BAD_REQUEST,
        view.GRAPHQL_PARSE_FAILED,
        view.GRAPHQL_VALIDATION_FAILED,
        view.BAD_USER_INPUT,
        view.OPERATION_RESOLUTION_FAILURE,
    }
    | {REQUEST_TOO_LARGE}
)
# Codes the sign-in routes answer outside GraphQL: a refused sign-in sends the browser to the
# frontend with one in `?loginError=`; the development login refuses a body that is not JSON.
SIGN_IN_ERROR_CODES = frozenset({*LOGIN_ERROR_CODES, UNSUPPORTED_MEDIA_TYPE})
USER_ERROR = "UserError"
RESULT_SUFFIX = "Result"
_SCENARIO_KEYS = frozenset(
    {"name", "settings", "signIn", "steps", "variables", "headers", "expect"}
)
_EXPECT_KEYS = frozenset({"data", "errors"})
_OPERATION_STEP_KEYS = frozenset({"operation", "variables", "capture"})
FAULTS_STEP = "emulatorFaults"
# `{{name}}` in a string stands for the value a set-up step captured as `name`.
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True, slots=True)
class OperationStep:
    """Set-up: run another contract operation in the same browser; it must succeed."""

    operation: str
    variables: dict[str, Any]
    # name -> dotted path in the answer's `data` (`apiKeyCreate.secret`) of a string to keep.
    capture: dict[str, str]


@dataclass(frozen=True, slots=True)
class FaultsStep:
    """Set-up: PATCH the LiteLLM emulator's `/_emulator/faults` with this body."""

    faults: dict[str, Any]


Step = OperationStep | FaultsStep


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
    # Run after signing in, before the request; their captures fill `{{name}}` placeholders
    # in later steps' variables and in the scenario's variables, headers and expect.
    steps: tuple[Step, ...] = ()
    # HTTP headers of the request, e.g. `Authorization: Bearer {{secret}}`.
    headers: dict[str, str] = field(default_factory=dict)


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
    operations = [
        _load_operation(path, fragments) for path in sorted(OPERATIONS_DIR.glob("*.graphql"))
    ]
    names = {operation.name for operation in operations}
    for operation in operations:
        for scenario in operation.scenarios:
            for step in scenario.steps:
                if isinstance(step, OperationStep) and step.operation not in names:
                    raise ValueError(
                        f"{operation.name}.json / {scenario.name!r}: a step runs "
                        f"{step.operation}, which is not in {OPERATIONS_DIR.name}/"
                    )
    return operations


def operation_document(name: str) -> str:
    """The text a client sends for operation `name`: the operation, then its fragments."""
    return _document_text(OPERATIONS_DIR / f"{name}.graphql", load_fragments())


def _load_operation(path: Path, fragments: dict[str, str]) -> Operation:
    text = _document_text(path, fragments)
    fixture = path.with_suffix(".json")
    if not fixture.exists():
        raise ValueError(f"{path.name}: add its scenarios in {fixture.name}")
    return Operation(path.stem, path, text, load_scenarios(fixture))


def _document_text(path: Path, fragments: dict[str, str]) -> str:
    source = path.read_text(encoding="utf-8")
    definitions = parse(source).definitions
    if len(definitions) != 1 or not isinstance(definitions[0], OperationDefinitionNode):
        raise ValueError(
            f"{path.name}: an operation file holds one operation; fragments go in fragments/"
        )
    if definitions[0].name is None or definitions[0].name.value != path.stem:
        raise ValueError(f"{path.name}: the operation must be named {path.stem}")
    used = sorted(_fragments_used(source, fragments))
    return "\n".join([source, *(fragments[name] for name in used)])


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


def load_scenarios(fixture: Path) -> tuple[Scenario, ...]:
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
    steps = tuple(_step(where, raw) for raw in item.get("steps", []))
    own_litellm = "LITELLM_URL" in {key.upper() for key in settings}
    if own_litellm and any(isinstance(step, FaultsStep) for step in steps):
        raise ValueError(f"{where}: {FAULTS_STEP} needs the emulator, not settings' LITELLM_URL")
    scenario = Scenario(
        name=item["name"],
        expect=expect,
        variables=item.get("variables", {}),
        sign_in=item.get("signIn"),
        settings=settings,
        steps=steps,
        headers=item.get("headers", {}),
    )
    _check_placeholders(where, scenario)
    return scenario


def _step(where: str, raw: dict[str, Any]) -> Step:
    if set(raw) == {FAULTS_STEP} and isinstance(raw[FAULTS_STEP], dict) and raw[FAULTS_STEP]:
        return FaultsStep(faults=raw[FAULTS_STEP])
    if "operation" in raw and set(raw) <= _OPERATION_STEP_KEYS:
        return OperationStep(
            operation=raw["operation"],
            variables=raw.get("variables", {}),
            capture=raw.get("capture", {}),
        )
    raise ValueError(
        f"{where}: a step is {{{FAULTS_STEP}: {{...}}}} or "
        f"{{operation, variables?, capture?}}, not {sorted(raw)}"
    )


def _check_placeholders(where: str, scenario: Scenario) -> None:
    """Every `{{name}}` stands for a value an earlier step captures."""
    known: set[str] = set()
    for number, step in enumerate(scenario.steps, start=1):
        if isinstance(step, OperationStep):
            if unknown := placeholders(step.variables) - known:
                raise ValueError(f"{where}: step {number} uses {sorted(unknown)} before capture")
            known |= set(step.capture)
    used = placeholders([scenario.variables, scenario.headers, scenario.expect])
    if unknown := used - known:
        raise ValueError(f"{where}: no step captures {sorted(unknown)}")


def placeholders(value: Any) -> set[str]:
    """The names of the `{{name}}` placeholders in the strings of a JSON value."""
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return set().union(*(placeholders(item) for item in value))
    return set()


def fill(value: Any, captured: Mapping[str, str]) -> Any:
    """`value` with each `{{name}}` in its strings replaced by the value captured as `name`."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda match: captured[match.group(1)], value)
    if isinstance(value, dict):
        return {key: fill(item, captured) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, captured) for item in value]
    return value


def capture(data: Any, paths: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The strings at `paths` (name -> dotted path) in a step's `data`, and what is missing."""
    captured: dict[str, str] = {}
    problems: list[str] = []
    for name, path in paths.items():
        value = data
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str):
            captured[name] = value
        else:
            problems.append(f"cannot capture {name}: no string at {path}")
    return captured, problems


def set_up_problems(body: dict[str, Any], error_types: frozenset[str]) -> list[str]:
    """Why a set-up step's answer is no success: top-level errors, or a UserError as result."""
    problems = [f"errors: {body['errors']}"] if body.get("errors") else []
    for name, value in (body.get("data") or {}).items():
        if isinstance(value, dict) and value.get("__typename") in error_types:
            problems.append(f"{name}: {value['__typename']} {value.get('message')!r}")
    return problems


def user_error_types(schema: GraphQLSchema) -> frozenset[str]:
    interface = schema.get_type(USER_ERROR)
    assert isinstance(interface, GraphQLInterfaceType), f"the schema has no {USER_ERROR}"
    return frozenset(t.name for t in schema.get_possible_types(interface))


def load_persisted_documents() -> dict[str, dict[str, str]]:
    """The trusted documents manifest: operation name -> {id, name, type, body}."""
    manifest = json.loads(PERSISTED_DOCUMENTS_FILE.read_text("utf-8"))
    return {operation["name"]: operation for operation in manifest["operations"]}


def persisted_query(name: str) -> dict[str, Any]:
    """The `extensions` with which Apollo's persisted query link names operation `name`."""
    sha256 = load_persisted_documents()[name]["id"]
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256}}


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
