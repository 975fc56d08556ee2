"""What the load run sends: the frontend's operations and the gateway's access check."""

from __future__ import annotations

import json
from dataclasses import dataclass

from app.graphql.trusted_documents import MANIFEST_FILE

# The service in production runs registered operations only: the load sends each by the sha256
# the frontend's Apollo Client sends (frontend-contract/persisted-documents.json).
_MANIFEST = json.loads(MANIFEST_FILE.read_text(encoding="utf-8"))
DOCUMENT_IDS = {operation["name"]: operation["id"] for operation in _MANIFEST["operations"]}


@dataclass(frozen=True, slots=True)
class Operation:
    """One request against the service and the same answer from the baseline."""

    name: str
    method: str
    path: str
    baseline_path: str
    # The registered operation's name and its variables; None for a plain HTTP endpoint.
    document: str | None = None
    variables: dict[str, str] | None = None
    session: bool = False  # sends the signed-in user's cookie
    api_key: bool = False  # sends `Authorization: Bearer <key>`

    def request(self, *, baseline: bool) -> tuple[str, str, str | None]:
        """Method, path and body of the request to the service or to the baseline."""
        if baseline and self.baseline_path.startswith("/authz"):
            return "GET", self.baseline_path, None
        if self.document is None:
            return self.method, self.baseline_path if baseline else self.path, None
        persisted = {"persistedQuery": {"version": 1, "sha256Hash": DOCUMENT_IDS[self.document]}}
        body = json.dumps({"extensions": persisted, "variables": self.variables or {}})
        return self.method, self.baseline_path if baseline else self.path, body


def operations(access_model: str) -> list[Operation]:
    return [
        Operation("api-keys", "POST", "/graphql", "/api-keys", "MyApiKeys", session=True),
        Operation("models", "POST", "/graphql", "/models", "ModelCatalogue", session=True),
        Operation(
            "subscriptions", "POST", "/graphql", "/subscriptions", "MySubscriptions", session=True
        ),
        # The app shell's sign-in check by an anonymous visitor: the framework alone (no
        # database, a resolver that returns at once), held against the API-keys baseline.
        Operation("graphql-floor", "POST", "/graphql", "/api-keys", "LoginState"),
        Operation(
            "modelAccess",
            "POST",
            "/graphql",
            f"/authz?model={access_model}",
            "ModelAccessCheck",
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
