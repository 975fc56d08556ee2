// Set-up steps of scenarios as the smoke runs them: placeholders, captures, and what counts as
// a failed step. tests/frontend_contract/test_scenario_steps.py checks the same rules in pytest.
import assert from "node:assert/strict";
import { test } from "node:test";

import { capture, fill, loadOperations, setUpProblems } from "../lib/contract.mjs";

const created = {
  apiKeyCreate: {
    __typename: "ApiKeyCreateSuccess",
    secret: "sk-abc",
    apiKey: { id: "k1", modelAccess: [{ id: "m1" }] },
  },
};

test("fill replaces placeholders in every string", () => {
  const value = {
    headers: { Authorization: "Bearer {{secret}}" },
    ids: ["{{keyId}}", "plain"],
    count: 2,
    none: null,
  };

  assert.deepEqual(fill(value, { secret: "sk-abc", keyId: "k1" }), {
    headers: { Authorization: "Bearer sk-abc" },
    ids: ["k1", "plain"],
    count: 2,
    none: null,
  });
});

test("capture takes strings at dotted paths", () => {
  const { captured, problems } = capture(created, {
    secret: "apiKeyCreate.secret",
    keyId: "apiKeyCreate.apiKey.id",
  });

  assert.deepEqual(captured, { secret: "sk-abc", keyId: "k1" });
  assert.deepEqual(problems, []);
});

for (const path of ["apiKeyCreate.token", "apiKeyCreate.apiKey", "apiKeyCreate.secret.length"]) {
  test(`capture reports ${path} as holding no string`, () => {
    const { captured, problems } = capture(created, { value: path });

    assert.deepEqual(captured, {});
    assert.deepEqual(problems, [`cannot capture value: no string at ${path}`]);
  });
}

test("a set-up step fails on errors and on a UserError result", () => {
  assert.deepEqual(setUpProblems({ data: created }), []);
  assert.deepEqual(
    setUpProblems({
      data: { apiKeyCreate: { __typename: "KeyLimitReachedError", message: "Full" } },
    }),
    ['apiKeyCreate: KeyLimitReachedError "Full"'],
  );
  assert.deepEqual(setUpProblems({ data: null, errors: [{ message: "Not signed in" }] }), [
    'errors: [{"message":"Not signed in"}]',
  ]);
});

test("every step runs an operation the contract has", () => {
  const operations = loadOperations();
  const names = new Set(operations.map((operation) => operation.name));
  const steps = operations.flatMap((operation) =>
    operation.scenarios.flatMap((scenario) => scenario.steps ?? []),
  );

  assert.ok(steps.length > 0);
  for (const step of steps) {
    assert.ok(step.emulatorFaults || names.has(step.operation), JSON.stringify(step));
  }
});
