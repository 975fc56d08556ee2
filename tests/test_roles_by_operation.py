"""Who may call what: every query and mutation of the schema, for an anonymous visitor, the
owner of the data, another user, a read-only administrator and an administrator.

The table has one row per root field; a field the schema gains without a row fails
`test_every_root_field_has_a_row`. Each row names a document acting on the owner's data (a
subscription to m1, a key for m1) and the outcome for each caller:
OK (allowed: data, or a typed error of the operation itself), UNAUTHENTICATED or FORBIDDEN
(top-level errors), NOT_FOUND (null, or a NotFoundError: the data is not the caller's to see).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.auth.session import SESSION_COOKIE
from app.graphql.schema import create_schema
from app.metrics import Metrics
from app.settings import Settings
from tests.portal import Portal

CALLERS = ("anonymous", "user", "other", "readonly", "admin")
GROUPS = {"user": [], "other": [], "readonly": ["litemaas-readonly"], "admin": ["litemaas-admins"]}
OK, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND = "OK", "UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND"


@dataclass(frozen=True)
class World:
    """The owner's data each row acts on."""

    owner_id: str
    subscription_id: str
    key_id: str
    secret: str


@dataclass(frozen=True)
class Row:
    document: str
    variables: Callable[[World], dict[str, Any]]
    # Outcomes for anonymous, user (the owner), other, readonly, admin.
    expected: tuple[str, str, str, str, str]
    bearer: bool = False  # sent with the owner's API key


RESULT = "{ __typename ... on UserError { code } }"
EVERYONE = (OK, OK, OK, OK, OK)
SIGNED_IN = (UNAUTHENTICATED, OK, OK, OK, OK)
OWNER_OR_READER = (UNAUTHENTICATED, OK, FORBIDDEN, OK, OK)
READERS = (UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, OK, OK)
ADMINS = (UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK)
OWNER_ONLY = (UNAUTHENTICATED, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND)
PAGE = "{ totalCount }"

TABLE: dict[str, Row] = {
    # Queries
    "me": Row("{ me { id } }", lambda w: {}, (NOT_FOUND, OK, OK, OK, OK)),  # null: nobody
    "models": Row("{ models { id } }", lambda w: {}, EVERYONE),
    "model": Row('{ model(id: "m1") { id } }', lambda w: {}, EVERYONE),
    "health": Row("{ health { status } }", lambda w: {}, EVERYONE),
    "subscriptions": Row(
        "query($u: ID) { subscriptions(userId: $u) { id } }",
        lambda w: {"u": w.owner_id},
        OWNER_OR_READER,
    ),
    "apiKeys": Row(
        "query($u: ID) { apiKeys(userId: $u) { id } }", lambda w: {"u": w.owner_id}, OWNER_OR_READER
    ),
    "apiKey": Row(
        "query($id: ID!) { apiKey(id: $id) { id } }", lambda w: {"id": w.key_id}, OWNER_ONLY
    ),
    "modelAccess": Row(
        f'{{ modelAccess(model: "m1") {RESULT} }}', lambda w: {}, EVERYONE, bearer=True
    ),
    "users": Row(f"{{ users {PAGE} }}", lambda w: {}, READERS),
    "subscriptionRequests": Row(f"{{ subscriptionRequests {PAGE} }}", lambda w: {}, READERS),
    "auditEvents": Row(f"{{ auditEvents {PAGE} }}", lambda w: {}, READERS),
    "modelAccessEnforcement": Row("{ modelAccessEnforcement { mode } }", lambda w: {}, READERS),
    # Mutations on the caller's own account
    "subscriptionCreate": Row(
        f'mutation {{ subscriptionCreate(input: {{modelId: "m2"}}) {RESULT} }}',
        lambda w: {},
        SIGNED_IN,
    ),
    "apiKeyCreate": Row(
        f'mutation {{ apiKeyCreate(input: {{name: "k", modelIds: ["m1"]}}) {RESULT} }}',
        lambda w: {},
        SIGNED_IN,
    ),
    "litellmSyncRetry": Row(f"mutation {{ litellmSyncRetry {RESULT} }}", lambda w: {}, SIGNED_IN),
    "signOutEverywhere": Row(f"mutation {{ signOutEverywhere {RESULT} }}", lambda w: {}, SIGNED_IN),
    # Mutations on the owner's data
    "subscriptionCancel": Row(
        f"mutation($id: ID!) {{ subscriptionCancel(id: $id) {RESULT} }}",
        lambda w: {"id": w.subscription_id},
        OWNER_ONLY,
    ),
    "apiKeyRevoke": Row(
        f"mutation($id: ID!) {{ apiKeyRevoke(id: $id) {RESULT} }}",
        lambda w: {"id": w.key_id},
        (UNAUTHENTICATED, OK, NOT_FOUND, NOT_FOUND, OK),
    ),
    "apiKeyUpdate": Row(
        f'mutation($id: ID!) {{ apiKeyUpdate(id: $id, input: {{name: "renamed"}}) {RESULT} }}',
        lambda w: {"id": w.key_id},
        (UNAUTHENTICATED, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    ),
    "apiKeyRotate": Row(
        f"mutation($id: ID!) {{ apiKeyRotate(id: $id, input: {{}}) {RESULT} }}",
        lambda w: {"id": w.key_id},
        (UNAUTHENTICATED, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    ),
    # Administrators only
    "safetyHoldConfirm": Row(
        f"mutation($id: ID!) {{ safetyHoldConfirm(id: $id) {RESULT} }}",
        lambda w: {"id": str(uuid.uuid4())},
        (UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, FORBIDDEN, NOT_FOUND),  # no such hold
    ),
    "subscriptionApprove": Row(
        "mutation($ids: [ID!]!) { subscriptionApprove(ids: $ids) { __typename } }",
        lambda w: {"ids": [w.subscription_id]},
        ADMINS,
    ),
    "subscriptionDeny": Row(
        "mutation($ids: [ID!]!) { subscriptionDeny(ids: $ids) { __typename } }",
        lambda w: {"ids": [w.subscription_id]},
        ADMINS,
    ),
    "subscriptionRevert": Row(
        f"mutation($id: ID!) {{ subscriptionRevert(id: $id) {RESULT} }}",
        lambda w: {"id": w.subscription_id},
        ADMINS,
    ),
    "subscriptionSuspend": Row(
        f"mutation($id: ID!) {{ subscriptionSuspend(id: $id) {RESULT} }}",
        lambda w: {"id": w.subscription_id},
        ADMINS,
    ),
    "subscriptionReactivate": Row(
        f"mutation($id: ID!) {{ subscriptionReactivate(id: $id) {RESULT} }}",
        lambda w: {"id": w.subscription_id},
        ADMINS,
    ),
    "userUpdate": Row(
        f"mutation($id: ID!) {{ userUpdate(id: $id, input: {{rpmLimit: 7}}) {RESULT} }}",
        lambda w: {"id": w.owner_id},
        ADMINS,
    ),
    "userSyncRetry": Row(
        f"mutation($id: ID!) {{ userSyncRetry(id: $id) {RESULT} }}",
        lambda w: {"id": w.owner_id},
        ADMINS,
    ),
    "modelUpdate": Row(
        f'mutation {{ modelUpdate(id: "m1", input: {{description: "d"}}) {RESULT} }}',
        lambda w: {},
        ADMINS,
    ),
    "modelAccessEnforcementUpdate": Row(
        'mutation { modelAccessEnforcementUpdate(input: {mode: ENFORCE, reason: "r"}) '
        f"{RESULT} }}",
        lambda w: {},
        ADMINS,
    ),
}


def _root_fields() -> set[str]:
    schema = create_schema(Settings.model_construct(), metrics=Metrics())._schema
    assert schema.query_type is not None
    assert schema.mutation_type is not None
    return set(schema.query_type.fields) | set(schema.mutation_type.fields)


def test_every_root_field_has_a_row() -> None:
    assert set(TABLE) == _root_fields(), "add a row to TABLE for each new query or mutation"


def _outcome(body: dict[str, Any], field: str) -> str:
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code in (UNAUTHENTICATED, FORBIDDEN), body
        return str(code)
    value = body["data"][field]
    if value is None or (isinstance(value, dict) and value.get("code") == NOT_FOUND):
        return NOT_FOUND
    return OK


async def _sign_in(portal: Portal, role: str) -> str:
    portal.client.cookies.clear()
    return await portal.login(f"{role}-{uuid.uuid4().hex[:8]}", groups=GROUPS[role])


async def _world(portal: Portal) -> World:
    """A fresh owner, signed in, with a subscription to m1 and a key for it."""
    owner_id = await _sign_in(portal, "user")
    subscription = await portal.subscribe("m1")
    created = await portal.create_key(["m1"])
    return World(
        owner_id, subscription["subscription"]["id"], created["apiKey"]["id"], created["secret"]
    )


@pytest.mark.parametrize("field", sorted(TABLE))
async def test_role_table(field: str, client: httpx.AsyncClient) -> None:
    row = TABLE[field]
    portal = Portal(client)
    seen: dict[str, str] = {}
    for caller in CALLERS:
        world = await _world(portal)
        if caller == "anonymous":
            portal.client.cookies.clear()
        elif caller != "user":
            await _sign_in(portal, caller)
        assert caller != "anonymous" or SESSION_COOKIE not in portal.client.cookies
        headers = {"Authorization": f"Bearer {world.secret}"} if row.bearer else {}
        response = await client.post(
            "/graphql",
            json={"query": row.document, "variables": row.variables(world)},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        seen[caller] = _outcome(response.json(), field)

    assert seen == dict(zip(CALLERS, row.expected, strict=True))
