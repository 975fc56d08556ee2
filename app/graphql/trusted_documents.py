"""Trusted documents: the frontend's registered operations, found by the id a client sends.

`persisted-documents.json` (Apollo's persisted query manifest, generated in
frontend-contract/ from its operations) holds each operation as Apollo Client sends it, keyed
by its sha256. A client names one with Apollo's `extensions.persistedQuery.sha256Hash` or with
`documentId: "sha256:<hex>"` (GraphQL over HTTP's persisted documents). In production only
these documents run; anything else is refused before it is parsed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.metrics import OTHER_OPERATION

MANIFEST_FILE = Path(__file__).with_name("persisted-documents.json")
MANIFEST_FORMAT = "apollo-persisted-query-manifest"
DOCUMENT_ID_PREFIX = "sha256:"

# Top-level error codes, as Apollo's clients and servers name them: an id the service does
# not know (Apollo's persisted query link then retries with the document, which development
# runs), and a document sent without an id where only registered operations run.
PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_ID_REQUIRED = "PERSISTED_QUERY_ID_REQUIRED"


class DocumentRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class TrustedDocuments:
    bodies: dict[str, str]  # sha256 (hex) -> the document
    only: bool  # True: nothing else runs
    names: dict[str, str]  # sha256 (hex) -> the operation's name

    @classmethod
    def load(cls, *, only: bool, path: Path = MANIFEST_FILE) -> TrustedDocuments:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest.get("format") != MANIFEST_FORMAT or manifest.get("version") != 1:
            raise ValueError(f"{path.name} is not a version 1 {MANIFEST_FORMAT}")
        operations = manifest["operations"]
        return cls(
            {op["id"]: op["body"] for op in operations},
            only,
            {op["id"]: op["name"] for op in operations},
        )

    def operation_label(self, params: dict[str, Any]) -> str:
        """The request's operation as metrics and logs name it: a registered operation's
        name, or `other` (a bounded set of values, whatever clients send)."""
        document_id = requested_document_id(params)
        if document_id is not None:
            return self.names.get(document_id, OTHER_OPERATION)
        name = params.get("operationName")
        return name if isinstance(name, str) and name in self.names.values() else OTHER_OPERATION

    def document(self, *, query: str | None, document_id: str | None) -> str | None:
        """The document to run: the registered one `document_id` names, else `query` where
        arbitrary documents may run. PERSISTED_QUERY_NOT_FOUND, PERSISTED_QUERY_ID_REQUIRED."""
        if document_id is not None:
            body = self.bodies.get(document_id)
            if body is not None:
                return body
            if query is None or self.only:
                raise DocumentRefused(
                    PERSISTED_QUERY_NOT_FOUND, "This operation is not registered with the service."
                )
        elif query is not None and self.only:
            raise DocumentRefused(
                PERSISTED_QUERY_ID_REQUIRED,
                "The service runs registered operations only: send the operation's id.",
            )
        return query


def requested_document_id(params: dict[str, Any]) -> str | None:
    """The sha256 a request names its document by, or None when it names none."""
    document_id = params.get("documentId")
    if isinstance(document_id, str):
        # An id of another scheme names no registered document.
        return (
            document_id.removeprefix(DOCUMENT_ID_PREFIX)
            if document_id.startswith(DOCUMENT_ID_PREFIX)
            else ""
        )
    persisted = (params.get("extensions") or {}).get("persistedQuery")
    if isinstance(persisted, dict) and isinstance(persisted.get("sha256Hash"), str):
        sha256: str = persisted["sha256Hash"]
        return sha256
    return None
