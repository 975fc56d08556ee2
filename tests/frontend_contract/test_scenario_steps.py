"""Set-up steps of scenarios: placeholders, captures, what counts as a failed step, and the
scenario files the loader refuses. frontend-contract/test/ checks the same rules in Node."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.frontend_contract.contract import (
    FaultsStep,
    OperationStep,
    capture,
    fill,
    load_scenarios,
    load_schema,
    placeholders,
    set_up_problems,
    user_error_types,
)

CREATED = {
    "apiKeyCreate": {
        "__typename": "ApiKeyCreateSuccess",
        "secret": "sk-abc",
        "apiKey": {"id": "k1", "modelAccess": [{"id": "m1"}]},
    }
}


def test_fill_replaces_placeholders_in_every_string() -> None:
    value = {
        "headers": {"Authorization": "Bearer {{secret}}"},
        "ids": ["{{keyId}}", "plain"],
        "count": 2,
        "none": None,
    }

    assert fill(value, {"secret": "sk-abc", "keyId": "k1"}) == {
        "headers": {"Authorization": "Bearer sk-abc"},
        "ids": ["k1", "plain"],
        "count": 2,
        "none": None,
    }
    assert placeholders(value) == {"secret", "keyId"}


def test_capture_takes_strings_at_dotted_paths() -> None:
    captured, problems = capture(
        CREATED, {"secret": "apiKeyCreate.secret", "keyId": "apiKeyCreate.apiKey.id"}
    )

    assert captured == {"secret": "sk-abc", "keyId": "k1"}
    assert problems == []


@pytest.mark.parametrize(
    "path", ["apiKeyCreate.token", "apiKeyCreate.apiKey", "apiKeyCreate.secret.length"]
)
def test_capture_reports_a_path_without_a_string(path: str) -> None:
    captured, problems = capture(CREATED, {"value": path})

    assert captured == {}
    assert problems == [f"cannot capture value: no string at {path}"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"data": CREATED}, None),
        (
            {"data": {"apiKeyCreate": {"__typename": "KeyLimitReachedError", "message": "Full"}}},
            "apiKeyCreate: KeyLimitReachedError 'Full'",
        ),
        (
            {"data": None, "errors": [{"message": "Not signed in"}]},
            "errors: [{'message': 'Not signed in'}]",
        ),
    ],
)
def test_a_set_up_step_fails_on_errors_and_user_errors(
    body: dict[str, Any], problem: str | None
) -> None:
    problems = set_up_problems(body, user_error_types(load_schema()))

    assert problems == ([] if problem is None else [problem])


def test_the_schema_user_errors_are_known() -> None:
    assert {"NotFoundError", "LitellmUnavailableError"} <= user_error_types(load_schema())
    assert "ApiKeyCreateSuccess" not in user_error_types(load_schema())


def _scenario_file(tmp_path: Path, **scenario: Any) -> Path:
    path = tmp_path / "Operation.json"
    body = {"name": "s", "expect": {"data": {}}, **scenario}
    path.write_text(json.dumps({"scenarios": [body]}))
    return path


def test_steps_are_loaded_in_order(tmp_path: Path) -> None:
    path = _scenario_file(
        tmp_path,
        steps=[
            {
                "operation": "ApiKeyCreate",
                "variables": {"input": {"name": "k", "modelIds": ["m1"]}},
                "capture": {"secret": "apiKeyCreate.secret"},
            },
            {"emulatorFaults": {"down": True}},
        ],
        headers={"Authorization": "Bearer {{secret}}"},
    )

    [scenario] = load_scenarios(path)

    assert scenario.steps == (
        OperationStep(
            operation="ApiKeyCreate",
            variables={"input": {"name": "k", "modelIds": ["m1"]}},
            capture={"secret": "apiKeyCreate.secret"},
        ),
        FaultsStep(faults={"down": True}),
    )
    assert scenario.headers == {"Authorization": "Bearer {{secret}}"}


@pytest.mark.parametrize(
    ("scenario", "problem"),
    [
        pytest.param(
            {"steps": [{"operation": "X", "expect": {}}]},
            "a step is {emulatorFaults: {...}} or {operation, variables?, capture?}",
            id="unknown step key",
        ),
        pytest.param(
            {"steps": [{"emulatorFaults": {}}]},
            "a step is {emulatorFaults: {...}}",
            id="empty faults",
        ),
        pytest.param(
            {"headers": {"Authorization": "Bearer {{secret}}"}},
            "no step captures ['secret']",
            id="placeholder never captured",
        ),
        pytest.param(
            {
                "steps": [
                    {"operation": "ApiKeyRevoke", "variables": {"id": "{{keyId}}"}},
                    {"operation": "ApiKeyCreate", "capture": {"keyId": "apiKeyCreate.apiKey.id"}},
                ]
            },
            "step 1 uses ['keyId'] before capture",
            id="placeholder before its capture",
        ),
        pytest.param(
            {
                "settings": {"LITELLM_URL": "http://127.0.0.1:1"},
                "steps": [{"emulatorFaults": {"down": True}}],
            },
            "emulatorFaults needs the emulator",
            id="faults without the emulator",
        ),
    ],
)
def test_the_loader_refuses_steps_it_cannot_run(
    tmp_path: Path, scenario: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=r"Operation\.json") as refused:
        load_scenarios(_scenario_file(tmp_path, **scenario))

    assert problem in str(refused.value)
