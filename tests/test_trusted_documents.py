"""Trusted documents and document limits: production runs only the frontend's registered
operations, every document is bounded before it runs, and the attacks that once stalled the
service (thousands of aliases, thousands of operations) are refused at once."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from graphql import (
    DocumentNode,
    FieldNode,
    NameNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Visitor,
    parse,
    print_ast,
    visit,
)
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app.graphql.trusted_documents import MANIFEST_FILE
from app.main import create_app
from app.resources import Resources
from litellm_emulator import LiteLLMEmulator
from tests import documents
from tests.conftest import EMULATOR_MASTER_KEY, EMULATOR_URL, make_settings, serve
from tests.frontend_contract.contract import (
    PERSISTED_DOCUMENTS_FILE,
    load_operations,
    load_persisted_documents,
    persisted_query,
)
from tests.test_auth_dev_login import PRODUCTION_SECRETS

GRAPHQL_RESPONSE = "application/graphql-response+json"
ACCEPT = {"Accept": f"{GRAPHQL_RESPONSE}, application/json;q=0.9"}  # as Apollo Client sends

# The attacks, as they were sent to the service.
HEALTH_ALIASES = "{ " + " ".join(f"h{i}: health {{ status }}" for i in range(10_000)) + " }"
TYPENAME_ALIASES = "{ " + " ".join(f"t{i}: __typename" for i in range(100_000)) + " }"
MANY_OPERATIONS = " ".join(f"query q{i} {{ __typename }}" for i in range(20_000))
ATTACKS = {
    "10,000 aliases of health": HEALTH_ALIASES,
    "100,000 aliases of __typename": TYPENAME_ALIASES,
    "20,000 operations": MANY_OPERATIONS,
}
# Over 1 MB, the largest never reaches GraphQL: the body limit refuses it first.
assert len(TYPENAME_ALIASES) > 1_000_000 > max(len(HEALTH_ALIASES), len(MANY_OPERATIONS))
TOO_LARGE = (413, "REQUEST_TOO_LARGE")
# The time the attacks once took was seconds to tens of seconds; refusing them takes this much.
QUICK_SECONDS = 0.5
# How each environment refuses them: production before parsing, the others at the token limit.
ENVIRONMENTS: dict[str, tuple[dict[str, Any], str]] = {
    "production": ({"env": "production"}, "PERSISTED_QUERY_ID_REQUIRED"),
    "production-arbitrary-documents": (
        {"env": "production", "graphql_allow_arbitrary_documents": True},
        "GRAPHQL_PARSE_FAILED",
    ),
    "development": ({"env": "development"}, "GRAPHQL_PARSE_FAILED"),
}


def _settings_overrides(database_url: str, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "database_url": database_url,
        "litellm_url": EMULATOR_URL,
        "litellm_master_key": EMULATOR_MASTER_KEY,
    }
    if overrides.get("env") == "production":
        base |= {"auth_mode": "oidc", **PRODUCTION_SECRETS, "litellm_url": EMULATOR_URL}
    return base | overrides


def _app(database_url: str, **overrides: Any) -> Starlette:
    settings = make_settings(**_settings_overrides(database_url, **overrides))
    assert settings.litellm_master_key is not None
    emulator = LiteLLMEmulator(master_key=settings.litellm_master_key.get_secret_value())
    return create_app(settings, litellm_transport=httpx.ASGITransport(app=emulator.app))


@contextmanager
def _statements(app: Starlette) -> Iterator[list[str]]:
    """Every SQL statement the app's SQLAlchemy engine runs meanwhile."""
    resources: Resources = app.state.resources
    engine: AsyncEngine = resources.engine
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def _probes(statements: list[str]) -> int:
    return sum(1 for statement in statements if statement.strip().upper() == "SELECT 1")


def _codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


def _refusal(attack: str, code: str) -> tuple[int, str]:
    """How an attack is answered: too large a body before GraphQL, else `code` with 400."""
    return TOO_LARGE if attack is TYPENAME_ALIASES else (400, code)


def _refused_with(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    if response.status_code == 413:
        return 413, body["error"]["code"]
    assert "data" not in body
    [code] = _codes(body)
    return response.status_code, code


# --- the manifest -------------------------------------------------------------------------


def _with_typename(document: DocumentNode) -> DocumentNode:
    """What Apollo Client's cache does to a document before sending it: `__typename` in every
    selection set but the operation's own."""

    class AddTypename(Visitor):
        def leave_selection_set(
            self, node: SelectionSetNode, _key: Any, parent: Any, *_: Any
        ) -> SelectionSetNode | None:
            if isinstance(parent, OperationDefinitionNode):
                return None
            if any(
                isinstance(s, FieldNode) and s.name.value == "__typename" for s in node.selections
            ):
                return None
            typename = FieldNode(
                name=NameNode(value="__typename"), arguments=(), directives=(), selection_set=None
            )
            return SelectionSetNode(selections=(*node.selections, typename))

    result: DocumentNode = visit(document, AddTypename())
    return result


def test_the_manifest_holds_every_operation_as_apollo_client_sends_it() -> None:
    manifest = load_persisted_documents()
    operations = load_operations()

    assert sorted(manifest) == sorted(op.name for op in operations), (
        "persisted-documents.json lists other operations than frontend-contract/operations: "
        "run `npm run generate` in frontend-contract"
    )
    for operation in operations:
        entry = manifest[operation.name]
        assert entry["id"] == hashlib.sha256(entry["body"].encode()).hexdigest(), operation.name
        assert entry["type"] == operation.document.definitions[0].operation.value  # type: ignore[attr-defined]
        expected = print_ast(_with_typename(parse(operation.text)))
        assert print_ast(parse(entry["body"])) == expected, (
            f"{operation.name} changed since persisted-documents.json was generated: "
            "run `npm run generate` in frontend-contract"
        )


def test_the_service_package_carries_the_manifest() -> None:
    assert MANIFEST_FILE.read_bytes() == PERSISTED_DOCUMENTS_FILE.read_bytes()


# --- production runs registered operations only --------------------------------------------


async def test_production_runs_registered_operations_by_their_hash(
    database_url: str, db_engine: AsyncEngine
) -> None:
    manifest = load_persisted_documents()
    catalogue_id = manifest["ModelCatalogue"]["id"]
    async with serve(_app(database_url, env="production")) as client:
        by_hash = await client.post(
            "/graphql", json={"extensions": persisted_query("LoginState")}, headers=ACCEPT
        )
        by_document_id = await client.post(
            "/graphql", json={"documentId": f"sha256:{catalogue_id}"}, headers=ACCEPT
        )
        over_get = await client.get(
            "/graphql",
            params={"documentId": f"sha256:{manifest['HealthDashboard']['id']}"},
            headers=ACCEPT,
        )

    assert by_hash.status_code == 200, by_hash.text
    assert by_hash.json() == {"data": {"me": None}}
    assert by_document_id.status_code == 200, by_document_id.text
    # The registered body ran: Apollo's cache asks every object for its `__typename`.
    models = by_document_id.json()["data"]["models"]
    assert models
    assert {model["__typename"] for model in models} == {"Model"}
    assert over_get.status_code == 200, over_get.text
    assert over_get.json()["data"]["health"]["database"]["status"] == "OK"


async def test_every_registered_operation_is_within_the_default_limits(
    database_url: str, db_engine: AsyncEngine
) -> None:
    # Each is sent by its hash with no variables: parsing and validation (with the limits) pass,
    # and what remains is the caller's: missing variables, or not being signed in.
    async with serve(_app(database_url, env="production")) as client:
        codes = {
            name: _codes(
                (
                    await client.post(
                        "/graphql", json={"extensions": persisted_query(name)}, headers=ACCEPT
                    )
                ).json()
            )
            for name in load_persisted_documents()
        }

    assert set().union(*codes.values()) <= {"BAD_USER_INPUT", "UNAUTHENTICATED"}, codes


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param({"query": documents.ME}, "PERSISTED_QUERY_ID_REQUIRED", id="free-form"),
        # Refused before parsing: a document that would not even parse gets the same answer.
        pytest.param({"query": "{ me { "}, "PERSISTED_QUERY_ID_REQUIRED", id="unparsable"),
        pytest.param(
            {"query": "mutation { litellmSyncRetry { __typename } }"},
            "PERSISTED_QUERY_ID_REQUIRED",
            id="free-form-mutation",
        ),
        pytest.param(
            {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}},
            "PERSISTED_QUERY_NOT_FOUND",
            id="unknown-hash",
        ),
        pytest.param(
            # Apollo's retry after PERSISTED_QUERY_NOT_FOUND: the hash and the document.
            {
                "query": documents.ME,
                "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}},
            },
            "PERSISTED_QUERY_NOT_FOUND",
            id="unknown-hash-with-document",
        ),
        pytest.param(
            {"documentId": "sha256:" + "0" * 64}, "PERSISTED_QUERY_NOT_FOUND", id="unknown-id"
        ),
        pytest.param({"documentId": "md5:0"}, "PERSISTED_QUERY_NOT_FOUND", id="other-scheme"),
    ],
)
async def test_production_refuses_anything_else_before_parsing(
    database_url: str,
    db_engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
    body: dict[str, Any],
    code: str,
) -> None:
    app = _app(database_url, env="production")
    async with serve(app) as client:
        with _statements(app) as statements, caplog.at_level(logging.DEBUG):
            response = await client.post("/graphql", json=body, headers=ACCEPT)
            plain_json = await client.post("/graphql", json=body)

    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert response.json() == {
        "errors": [
            {"message": response.json()["errors"][0]["message"], "extensions": {"code": code}}
        ]
    }
    assert "data" not in response.json()
    # A plain JSON client gets the same errors with 200, as the specification asks.
    assert plain_json.status_code == 200
    assert _codes(plain_json.json()) == [code]
    assert statements == [], "a refused document must reach no database"
    refusals = [r.getMessage() for r in caplog.records if "document refused" in r.getMessage()]
    assert refusals == [f"GraphQL document refused: {code}"] * 2
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_production_refuses_a_free_form_query_over_get_before_parsing(
    database_url: str, db_engine: AsyncEngine
) -> None:
    app = _app(database_url, env="production")
    async with serve(app) as client:
        with _statements(app) as statements:
            response = await client.get("/graphql", params={"query": documents.ME}, headers=ACCEPT)

    assert response.status_code == 400
    assert "data" not in response.json()
    assert _codes(response.json()) == ["PERSISTED_QUERY_ID_REQUIRED"]
    assert statements == [], "a refused document must reach no database"


async def test_development_runs_a_document_apollo_sends_after_an_unknown_hash(
    client: httpx.AsyncClient,
) -> None:
    unknown = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    first = await client.post("/graphql", json={"extensions": unknown}, headers=ACCEPT)
    retried = await client.post(
        "/graphql", json={"query": documents.ME, "extensions": unknown}, headers=ACCEPT
    )

    assert _codes(first.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert retried.json() == {"data": {"me": None}}


# --- the attacks ---------------------------------------------------------------------------


@pytest.mark.parametrize("attack", list(ATTACKS.values()), ids=list(ATTACKS))
@pytest.mark.parametrize("environment", list(ENVIRONMENTS))
async def test_the_attacks_are_refused_quickly_and_touch_no_database(
    database_url: str, db_engine: AsyncEngine, environment: str, attack: str
) -> None:
    overrides, code = ENVIRONMENTS[environment]
    app = _app(database_url, **overrides)
    async with serve(app) as client:
        with _statements(app) as statements:
            started = time.perf_counter()
            response = await client.post("/graphql", json={"query": attack}, headers=ACCEPT)
            elapsed = time.perf_counter() - started

    assert _refused_with(response) == _refusal(attack, code), response.text[:500]
    assert statements == []
    assert elapsed < QUICK_SECONDS, f"refusing took {elapsed:.2f} s"


async def test_health_probes_the_database_once_whatever_the_aliases(
    database_url: str, db_engine: AsyncEngine
) -> None:
    # Limits raised so the 10,000 aliases run: one probe answers them all.
    app = _app(database_url, graphql_max_aliases=20_000, graphql_max_tokens=200_000)
    async with serve(app) as client:
        with _statements(app) as statements:
            response = await client.post("/graphql", json={"query": HEALTH_ALIASES})

    data = response.json()["data"]
    assert len(data) == 10_000
    assert {answer["status"] for answer in data.values()} == {"OK"}
    assert _probes(statements) == 1


@pytest.mark.parametrize(
    ("document", "limit"),
    [
        pytest.param(
            "{ " + " ".join(f"a{i}: __typename" for i in range(16)) + " }", "aliases", id="aliases"
        ),
        pytest.param(
            "{ apiKeys { modelAccess"
            + " { subscription { model" * 6
            + " { id }"
            + " } }" * 6
            + " } }",
            "depth",
            id="depth",
        ),
    ],
)
async def test_alias_and_depth_limits_apply_in_development(
    client: httpx.AsyncClient, document: str, limit: str
) -> None:
    response = await client.post("/graphql", json={"query": document}, headers=ACCEPT)

    assert response.status_code == 400
    assert _codes(response.json()) == ["GRAPHQL_VALIDATION_FAILED"]
    message = response.json()["errors"][0]["message"]
    assert (
        ("aliases" in message)
        if limit == "aliases"
        else ("exceeds maximum operation depth" in message)
    )


# --- a concurrent request stays quick ------------------------------------------------------


@contextmanager
def _uvicorn(app: Starlette) -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1, on a free port, in a thread of its own."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@asynccontextmanager
async def _client(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        yield client


@pytest.mark.parametrize("attack", list(ATTACKS.values()), ids=list(ATTACKS))
@pytest.mark.parametrize("environment", ["production", "development"])
async def test_healthz_stays_quick_while_an_attack_is_answered(
    database_url: str, db_engine: AsyncEngine, environment: str, attack: str
) -> None:
    overrides, code = ENVIRONMENTS[environment]
    app = _app(database_url, **overrides)
    with _uvicorn(app) as base_url:
        async with _client(base_url) as attacker, _client(base_url) as prober:
            assert (await prober.get("/healthz")).status_code == 200  # connected, warm

            async def probe() -> float:
                started = time.perf_counter()
                response = await prober.get("/healthz")
                assert response.status_code == 200
                return time.perf_counter() - started

            attack_task = asyncio.create_task(
                attacker.post("/graphql", json={"query": attack}, headers=ACCEPT)
            )
            # Probes sent while the attack is on its way in and being answered.
            latencies: list[float] = []
            while not attack_task.done() or not latencies:
                latencies.append(await probe())
            try:
                refusal: tuple[int, str] | None = _refused_with(await attack_task)
            except httpx.TransportError:
                # 413 was sent, and the connection closed, before the client finished sending.
                refusal = None

    expected = _refusal(attack, code)
    assert refusal == expected or (refusal is None and expected == TOO_LARGE)
    assert max(latencies) < QUICK_SECONDS, f"/healthz took {max(latencies):.2f} s"


# --- what the client and the log are told ---------------------------------------------------


async def test_no_field_suggestions_in_production(database_url: str) -> None:
    document = "{ apiKeyz { id } }"
    app = _app(database_url, env="production", graphql_allow_arbitrary_documents=True)
    async with serve(app) as client:
        production = await client.post("/graphql", json={"query": document})
    async with serve(_app(database_url)) as client:
        development = await client.post("/graphql", json={"query": document})

    assert "Did you mean" not in production.text
    assert "apiKeyz" in production.json()["errors"][0]["message"]
    assert "Did you mean 'apiKey'" in development.json()["errors"][0]["message"]


FORGED = "\n2026-01-01 ERROR app: forged line"


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        pytest.param("{ me { id " + FORGED, None, id="syntax"),
        pytest.param('{ model(id: "m1") { unknownField } }' + f"# {FORGED}", None, id="validation"),
        pytest.param(
            "query Q($id: ID!) { model(id: $id) { id } }" + f"# {FORGED}", None, id="variables"
        ),
        pytest.param(
            "query Q($id: ID!) { model(id: $id) { id } }",
            {"id": {"forged": FORGED}},
            id="variable-of-the-wrong-type",
        ),
        pytest.param(HEALTH_ALIASES, None, id="too-many-tokens"),
    ],
)
async def test_invalid_documents_are_answered_but_not_logged_as_errors(
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    document: str,
    variables: dict[str, Any] | None,
) -> None:
    with caplog.at_level(logging.DEBUG):
        response = await client.post(
            "/graphql", json={"query": document, "variables": variables}, headers=ACCEPT
        )

    assert response.status_code == 400
    assert "data" not in response.json()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "forged" not in caplog.text
    assert not any(r.exc_info for r in caplog.records)
    refused = [r for r in caplog.records if "GraphQL document refused" in r.getMessage()]
    assert len(refused) == 1
    assert "\n" not in refused[0].getMessage()


def test_the_limits_have_safe_defaults() -> None:
    settings = make_settings()
    assert settings.graphql_allow_arbitrary_documents is False
    assert (
        settings.graphql_max_tokens,
        settings.graphql_max_aliases,
        settings.graphql_max_depth,
    ) == (
        1000,
        15,
        10,
    )
