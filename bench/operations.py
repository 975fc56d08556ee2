"""What the load run sends: the frontend's operations and the gateway's access check."""

from __future__ import annotations

import json
from dataclasses import dataclass

API_KEYS = """
query ApiKeys {
  apiKeys { id name prefix status expiresAt createdAt modelAccess { id name } }
}
"""
MODELS = """
query Models {
  models {
    id name provider description contextLength inputCostPerToken outputCostPerToken
    capabilities restrictedAccess available subscription { status }
  }
}
"""
SUBSCRIPTIONS = """
query Subscriptions {
  subscriptions { id status model { id name } }
}
"""
# The least a signed-in GraphQL request costs: no resolver, no database.
FLOOR = "query Floor { __typename }"
MODEL_ACCESS = """
query ModelAccess($model: ID!) {
  modelAccess(model: $model) {
    __typename
    ... on ModelAccessGranted { model { id } allowedModels { id } }
    ... on UserError { code message }
  }
}
"""


@dataclass(frozen=True, slots=True)
class Operation:
    """One request against the service and the same answer from the baseline."""

    name: str
    method: str
    path: str
    baseline_path: str
    # GraphQL document and variables; None for a plain HTTP endpoint.
    query: str | None = None
    variables: dict[str, str] | None = None
    session: bool = False  # sends the signed-in user's cookie
    api_key: bool = False  # sends `Authorization: Bearer <key>`

    def request(self, *, baseline: bool) -> tuple[str, str, str | None]:
        """Method, path and body of the request to the service or to the baseline."""
        if baseline and self.baseline_path.startswith("/authz"):
            return "GET", self.baseline_path, None
        if self.query is None:
            return self.method, self.baseline_path if baseline else self.path, None
        body = json.dumps({"query": self.query, "variables": self.variables or {}})
        return self.method, self.baseline_path if baseline else self.path, body


def operations(access_model: str) -> list[Operation]:
    return [
        Operation("api-keys", "POST", "/graphql", "/api-keys", API_KEYS, session=True),
        Operation("models", "POST", "/graphql", "/models", MODELS, session=True),
        Operation(
            "subscriptions", "POST", "/graphql", "/subscriptions", SUBSCRIPTIONS, session=True
        ),
        # Held against the API-keys baseline: what the framework alone leaves of the target.
        Operation("graphql-floor", "POST", "/graphql", "/api-keys", FLOOR, session=True),
        Operation(
            "modelAccess",
            "POST",
            "/graphql",
            f"/authz?model={access_model}",
            MODEL_ACCESS,
            {"model": access_model},
            api_key=True,
        ),
        Operation(
            "authz",
            "GET",
            f"/authz?model={access_model}",
            f"/authz?model={access_model}",
            api_key=True,
        ),
    ]
