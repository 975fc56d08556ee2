from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.graphql.schema import export_sdl
from app.main import create_app
from tests.conftest import make_settings, serve
from tests.test_auth_dev_login import PRODUCTION_SECRETS

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schema.graphql"
REGENERATE = "litemaas-bff export-schema --output schema.graphql"


def test_schema_graphql_is_what_the_code_exports() -> None:
    assert SCHEMA_FILE.read_text() == export_sdl(), (
        f"schema.graphql is out of date; regenerate it with `{REGENERATE}`"
    )


async def test_graphql_answers_post_on_the_route_itself(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ __typename }"})

    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_graphiql_and_introspection_in_development(client: httpx.AsyncClient) -> None:
    ide = await client.get("/graphql", headers={"Accept": "text/html"})
    introspection = await client.post(
        "/graphql", json={"query": "{ __schema { queryType { name } } }"}
    )

    assert ide.status_code == 200
    assert "graphiql" in ide.text.lower()
    assert introspection.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


async def test_no_graphiql_and_no_introspection_in_production(database_url: str) -> None:
    # Even where production lets arbitrary documents through, introspection stays off.
    settings = make_settings(
        database_url=database_url,
        env="production",
        auth_mode="oidc",
        graphql_allow_arbitrary_documents=True,
        **PRODUCTION_SECRETS,
    )
    async with serve(create_app(settings)) as client:
        ide = await client.get("/graphql", headers={"Accept": "text/html"})
        introspection = await client.post(
            "/graphql", json={"query": "{ __schema { queryType { name } } }"}
        )
        plain = await client.post("/graphql", json={"query": "{ me { id } }"})

    assert "graphiql" not in ide.text.lower()
    errors = introspection.json()["errors"]
    assert "introspection" in errors[0]["message"].lower()
    assert plain.json() == {"data": {"me": None}}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"query": "{ health { status } "', "not valid JSON"),
        (b'{"query": 42}', "`query` must be a string"),
        (b'{"query": "{ health { status } }", "variables": []}', "must be a JSON object"),
    ],
)
async def test_malformed_request_bodies_are_400_with_a_reason(
    client: httpx.AsyncClient, body: bytes, message: str
) -> None:
    response = await client.post(
        "/graphql", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert message in response.text
