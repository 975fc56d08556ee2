"""Every operation the frontend sends is valid, follows the errors-as-data rule, and gets the
answers its scenarios expect from the running service."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx
import pytest
from graphql import (
    FragmentDefinitionNode,
    OperationDefinitionNode,
    OperationType,
    build_schema,
    parse,
    validate,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app.main import create_app
from litellm_emulator import LiteLLMEmulator
from litellm_emulator.dev_app import EMULATOR_MODELS
from tests.conftest import EMULATOR_MASTER_KEY, EMULATOR_URL, make_settings, serve
from tests.frontend_contract.contract import (
    FRAGMENTS_DIR,
    OPERATIONS_DIR,
    FaultsStep,
    Operation,
    Scenario,
    capture,
    fill,
    load_fragments,
    load_operations,
    load_schema,
    mismatches,
    result_union_problems,
    set_up_problems,
    user_error_types,
)

OPERATIONS = load_operations()
OPERATIONS_BY_NAME = {operation.name: operation for operation in OPERATIONS}
SCENARIOS = [
    pytest.param(operation, scenario, id=f"{operation.name}/{scenario.name}")
    for operation in OPERATIONS
    for scenario in operation.scenarios
]


# One operation per page need of the React app.
PAGE_OPERATIONS = {
    "LoginState",
    "HealthDashboard",
    "ModelCatalogue",
    "SubscriptionCreate",
    "MySubscriptions",
    "SubscriptionCancel",
    "MyApiKeys",
    "ApiKeyCreate",
    "ApiKeyRevoke",
    "LitellmSyncRetry",
    "ModelAccessCheck",
}


def test_the_frontend_has_operations_and_fragments() -> None:
    assert {operation.name for operation in OPERATIONS} >= PAGE_OPERATIONS
    assert load_fragments()


def test_scenarios_that_change_state_sign_in_as_their_own_user() -> None:
    # The smoke runs every scenario against one database: a user shared with another
    # scenario would make the outcome depend on which ran first.
    scenarios_of: dict[str, list[str]] = defaultdict(list)
    changing: set[str] = set()
    for operation in OPERATIONS:
        for scenario in operation.scenarios:
            if scenario.sign_in is None:
                continue
            username = scenario.sign_in["username"]
            scenarios_of[username].append(f"{operation.name} / {scenario.name}")
            if scenario.steps or _is_mutation(operation):
                changing.add(username)

    shared = {user: scenarios_of[user] for user in changing if len(scenarios_of[user]) > 1}
    assert not shared, f"give these scenarios a user each: {shared}"


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
    app, emulator = _app_for(scenario, database_url)
    async with serve(app) as client:
        if scenario.sign_in is not None:
            login = await client.post("/auth/dev-login", json=scenario.sign_in)
            assert login.status_code == 200, login.text
        captured = await _set_up(client, emulator, scenario)
        response = await _post(
            client,
            operation,
            fill(scenario.variables, captured),
            headers=fill(scenario.headers, captured),
        )

    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    if "errors" not in scenario.expect:
        assert "errors" not in body, f"unexpected errors: {body['errors']}"
    problems = mismatches(fill(scenario.expect, captured), body)
    assert not problems, "\n".join(problems)


async def _post(
    client: httpx.AsyncClient,
    operation: Operation,
    variables: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": operation.text, "operationName": operation.name, "variables": variables},
        headers=headers,
    )


async def _set_up(
    client: httpx.AsyncClient, emulator: LiteLLMEmulator | None, scenario: Scenario
) -> dict[str, str]:
    """Run the scenario's steps; what they captured, by name."""
    captured: dict[str, str] = {}
    for number, step in enumerate(scenario.steps, start=1):
        if isinstance(step, FaultsStep):
            assert emulator is not None, "the loader refuses faults without the emulator"
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=emulator.app), base_url=EMULATOR_URL
            ) as litellm:
                faulted = await litellm.patch(
                    "/_emulator/faults",
                    json=step.faults,
                    headers={"Authorization": f"Bearer {EMULATOR_MASTER_KEY}"},
                )
            assert faulted.status_code == 200, f"step {number}: {faulted.text}"
            continue
        response = await _post(
            client, OPERATIONS_BY_NAME[step.operation], fill(step.variables, captured)
        )
        assert response.status_code == 200, f"step {number}: {response.text}"
        body = response.json()
        problems = set_up_problems(body, user_error_types(load_schema()))
        found, missing = capture(body.get("data"), step.capture)
        assert not problems + missing, f"step {number} ({step.operation}): {problems + missing}"
        captured |= found
    return captured


def _app_for(scenario: Scenario, database_url: str) -> tuple[Starlette, LiteLLMEmulator | None]:
    """The service as `litemaas-bff dev` runs it, and its LiteLLM emulator: LiteLLM is the
    emulator unless a scenario names its own LITELLM_URL (e.g. one where nothing listens)."""
    overrides = {key.lower(): value for key, value in scenario.settings.items()}
    if "litellm_url" in overrides:
        return create_app(make_settings(**{"database_url": database_url, **overrides})), None
    emulator = LiteLLMEmulator(master_key=EMULATOR_MASTER_KEY, models=list(EMULATOR_MODELS))
    settings = make_settings(
        **{
            "database_url": database_url,
            "litellm_url": EMULATOR_URL,
            "litellm_master_key": EMULATOR_MASTER_KEY,
            **overrides,
        }
    )
    app = create_app(settings, litellm_transport=httpx.ASGITransport(app=emulator.app))
    return app, emulator


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


def _is_mutation(operation: Operation) -> bool:
    [definition] = [
        d for d in operation.document.definitions if isinstance(d, OperationDefinitionNode)
    ]
    return definition.operation is OperationType.MUTATION


def _fragment_names(operation: Operation) -> set[str]:
    definitions = operation.document.definitions
    return {d.name.value for d in definitions if isinstance(d, FragmentDefinitionNode)}
