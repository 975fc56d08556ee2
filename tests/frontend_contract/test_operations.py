"""Every operation the frontend sends is valid, follows the errors-as-data rule, and gets the
answers its scenarios expect from the running service."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from graphql import FragmentDefinitionNode, build_schema, parse, validate
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app.litellm_emulator import LiteLLMEmulator
from app.main import EMULATOR_MODELS, create_app
from tests.conftest import EMULATOR_MASTER_KEY, EMULATOR_URL, make_settings, serve
from tests.frontend_contract.contract import (
    FRAGMENTS_DIR,
    OPERATIONS_DIR,
    Operation,
    Scenario,
    load_fragments,
    load_operations,
    load_schema,
    mismatches,
    result_union_problems,
)

OPERATIONS = load_operations()
SCENARIOS = [
    pytest.param(operation, scenario, id=f"{operation.name}/{scenario.name}")
    for operation in OPERATIONS
    for scenario in operation.scenarios
]


def test_the_frontend_has_operations_and_fragments() -> None:
    assert {operation.name for operation in OPERATIONS} >= {"LoginState", "HealthDashboard"}
    assert load_fragments()


def test_every_scenario_file_belongs_to_an_operation() -> None:
    orphans = {path.stem for path in OPERATIONS_DIR.glob("*.json")} - {
        path.stem for path in OPERATIONS_DIR.glob("*.graphql")
    }
    assert not orphans, f"scenario files without an operation: {sorted(orphans)}"


def test_every_fragment_is_used() -> None:
    used = {name for operation in OPERATIONS for name in _fragment_names(operation)}
    unused = sorted(set(load_fragments()) - used)
    assert not unused, f"no operation uses these fragments in {FRAGMENTS_DIR.name}/: {unused}"


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.name)
def test_operation_validates_against_the_schema(operation: Operation) -> None:
    errors = validate(load_schema(), operation.document)

    assert not errors, f"{operation.path.name}: " + "; ".join(e.message for e in errors)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.name)
def test_operation_asks_result_unions_for_typename_and_user_error(operation: Operation) -> None:
    problems = result_union_problems(load_schema(), operation.document)

    assert not problems, f"{operation.path.name}: " + "; ".join(problems)


@pytest.mark.parametrize(("operation", "scenario"), SCENARIOS)
async def test_operation_scenario_against_the_service(
    operation: Operation, scenario: Scenario, database_url: str, db_engine: AsyncEngine
) -> None:
    async with serve(_app_for(scenario, database_url)) as client:
        if scenario.sign_in is not None:
            login = await client.post("/auth/dev-login", json=scenario.sign_in)
            assert login.status_code == 200, login.text
        response = await client.post(
            "/graphql",
            json={
                "query": operation.text,
                "operationName": operation.name,
                "variables": scenario.variables,
            },
        )

    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    if "errors" not in scenario.expect:
        assert "errors" not in body, f"unexpected errors: {body['errors']}"
    problems = mismatches(scenario.expect, body)
    assert not problems, "\n".join(problems)


def _app_for(scenario: Scenario, database_url: str) -> Starlette:
    """The service as `litemaas-bff dev` runs it: LiteLLM is the emulator unless a scenario
    names its own LITELLM_URL (e.g. one where nothing listens)."""
    overrides = {key.lower(): value for key, value in scenario.settings.items()}
    if "litellm_url" in overrides:
        return create_app(make_settings(**{"database_url": database_url, **overrides}))
    emulator = LiteLLMEmulator(master_key=EMULATOR_MASTER_KEY, models=list(EMULATOR_MODELS))
    settings = make_settings(
        **{
            "database_url": database_url,
            "litellm_url": EMULATOR_URL,
            "litellm_master_key": EMULATOR_MASTER_KEY,
            **overrides,
        }
    )
    return create_app(settings, litellm_transport=httpx.ASGITransport(app=emulator.app))


# The rule itself, on a schema where it has something to check (the real one grows into it).
RESULT_SCHEMA = build_schema("""
    enum ErrorCode { NOT_FOUND }
    interface UserError { code: ErrorCode! message: String! }
    type NotFoundError implements UserError { code: ErrorCode! message: String! }
    type ApiKey { id: ID! }
    type ApiKeyRevokeSuccess { apiKey: ApiKey! }
    union ApiKeyRevokeResult = ApiKeyRevokeSuccess | NotFoundError
    type Query { apiKey(id: ID!): ApiKey }
    type Mutation { apiKeyRevoke(id: ID!): ApiKeyRevokeResult! }
""")


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        pytest.param(
            "mutation { apiKeyRevoke(id: 1) { __typename"
            " ... on ApiKeyRevokeSuccess { apiKey { id } } ... on UserError { code message } } }",
            None,
            id="inline fragments",
        ),
        pytest.param(
            "mutation { revoked: apiKeyRevoke(id: 1) { ...Outcome } }"
            " fragment Outcome on ApiKeyRevokeResult { __typename ...Failure }"
            " fragment Failure on UserError { code message }",
            None,
            id="named fragments",
        ),
        pytest.param(
            "mutation { apiKeyRevoke(id: 1) { ... on UserError { code message } } }",
            "`apiKeyRevoke` (ApiKeyRevokeResult) must select __typename",
            id="no __typename",
        ),
        pytest.param(
            "mutation { apiKeyRevoke(id: 1) { __typename"
            " ... on ApiKeyRevokeSuccess { apiKey { id } } } }",
            "must select ... on UserError { code message }",
            id="no UserError",
        ),
        pytest.param(
            "mutation { apiKeyRevoke(id: 1) { __typename ... on NotFoundError { code message } } }",
            "must select ... on UserError { code message }",
            id="one error type only",
        ),
        pytest.param(
            "mutation { apiKeyRevoke(id: 1) { __typename ... on UserError { code } } }",
            "must select ... on UserError { code message }",
            id="no message",
        ),
    ],
)
def test_the_result_union_rule(document: str, problem: str | None) -> None:
    parsed = parse(document)
    assert validate(RESULT_SCHEMA, parsed) == []

    problems = result_union_problems(RESULT_SCHEMA, parsed)

    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1
        assert problem in problems[0]


@pytest.mark.parametrize(
    ("expected", "actual", "problem"),
    [
        ({"me": None}, {"me": None}, None),
        ({"me": {"roles": ["user"]}}, {"me": {"id": "1", "roles": ["user"]}}, None),
        ({"me": None}, {"me": {"id": "1"}}, "$.me: expected None"),
        ({"me": {"id": "1"}}, {"me": {}}, "$.me.id: missing"),
        ({"roles": ["user"]}, {"roles": ["admin", "user"]}, "$.roles: expected 1 items"),
        ({"count": 1}, {"count": True}, "$.count: expected 1, got True"),
        ({"latencyMs": 1}, {"latencyMs": 1.0}, None),
    ],
)
def test_scenario_expectations_match_as_a_subset(
    expected: dict[str, Any], actual: dict[str, Any], problem: str | None
) -> None:
    problems = mismatches(expected, actual)

    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1
        assert problem in problems[0]


def _fragment_names(operation: Operation) -> set[str]:
    definitions = operation.document.definitions
    return {d.name.value for d in definitions if isinstance(d, FragmentDefinitionNode)}
