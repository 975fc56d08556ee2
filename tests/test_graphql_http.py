"""GraphQL over HTTP as its specification and its clients expect (graphql-http's audit checks
the same from Node): media types, status codes, GET for queries only, and no cross-site way
to change anything."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests import documents
from tests.portal import Portal

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
QUERY = "{ __typename }"


def _media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0]


def _codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json()["errors"]]


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (f"{GRAPHQL_RESPONSE}, {JSON};q=0.9", GRAPHQL_RESPONSE),  # Apollo Client 4
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (JSON, JSON),
        ("*/*", JSON),
        (None, JSON),
    ],
)
async def test_answers_in_the_media_type_the_client_accepts(
    client: httpx.AsyncClient, accept: str | None, media_type: str
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = await client.post("/graphql", json={"query": QUERY}, headers=headers)

    assert response.status_code == 200
    assert _media_type(response) == media_type
    assert "charset=utf-8" in response.headers["content-type"]
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_an_unacceptable_media_type_is_406(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": QUERY}, headers={"Accept": "text/csv"})

    assert response.status_code == 406


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param({"query": "{ health { "}, "GRAPHQL_PARSE_FAILED", id="parse"),
        pytest.param({"query": "{ nothingHere }"}, "GRAPHQL_VALIDATION_FAILED", id="validation"),
        pytest.param(
            {"query": "query M($id: ID!) { model(id: $id) { id } }", "variables": {}},
            "BAD_USER_INPUT",
            id="variables",
        ),
        pytest.param(
            {"query": "query A { __typename }", "operationName": "B"},
            "OPERATION_RESOLUTION_FAILURE",
            id="which-operation",
        ),
    ],
)
async def test_a_document_that_cannot_run_is_400_without_data_for_graphql_response_json(
    client: httpx.AsyncClient, body: dict[str, Any], code: str
) -> None:
    strict = await client.post("/graphql", json=body, headers={"Accept": GRAPHQL_RESPONSE})
    plain = await client.post("/graphql", json=body, headers={"Accept": JSON})

    assert strict.status_code == 400
    assert _media_type(strict) == GRAPHQL_RESPONSE
    assert "data" not in strict.json()
    assert _codes(strict) == [code]
    # application/json clients read only the body: 200, the same errors.
    assert plain.status_code == 200
    assert "data" not in plain.json()
    assert _codes(plain) == [code]


async def test_an_error_in_a_field_keeps_200_and_data(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": documents.API_KEYS}, headers={"Accept": GRAPHQL_RESPONSE}
    )

    assert response.status_code == 200
    assert response.json()["data"] is None
    assert _codes(response) == ["UNAUTHENTICATED"]


async def test_queries_run_over_get(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql",
        params={"query": "query M($id: ID!) { model(id: $id) { id } }", "variables": '{"id": "x"}'},
        headers={"Accept": GRAPHQL_RESPONSE},
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"model": None}}


async def test_a_mutation_over_get_is_405_and_changes_nothing(
    client: httpx.AsyncClient, portal: Portal
) -> None:
    await portal.login()
    response = await client.get(
        "/graphql",
        params={"query": documents.SUBSCRIPTION_CREATE, "variables": '{"modelId": "m1"}'},
        headers={"Accept": GRAPHQL_RESPONSE},
    )

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert _codes(response) == ["BAD_REQUEST"]
    assert (await portal.data(documents.SUBSCRIPTIONS))["subscriptions"] == []


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        # What a cross-site form can send without a preflight.
        ("text/plain", '{"query": "%s", "variables": {"modelId": "m1"}}'),
        (
            "application/x-www-form-urlencoded",
            "query=%s&variables=%%7B%%22modelId%%22%%3A%%22m1%%22%%7D",
        ),
        (
            "multipart/form-data; boundary=x",
            '--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n%s\r\n--x--',
        ),
        (None, '{"query": "%s", "variables": {"modelId": "m1"}}'),
    ],
)
async def test_a_post_that_is_not_json_is_415_and_changes_nothing(
    client: httpx.AsyncClient, portal: Portal, content_type: str | None, body: str
) -> None:
    await portal.login()
    mutation = " ".join(documents.SUBSCRIPTION_CREATE.split()).replace('"', '\\"')
    headers = {"Content-Type": content_type} if content_type else {}
    response = await client.post("/graphql", content=body % mutation, headers=headers)

    assert response.status_code == 415
    assert _codes(response) == ["BAD_REQUEST"]
    assert (await portal.data(documents.SUBSCRIPTIONS))["subscriptions"] == []


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_other_methods_are_405(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, "/graphql", json={"query": QUERY})

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({}, "no GraphQL document"),
        ({"query": QUERY, "variables": "{not json"}, "not valid JSON"),
        ({"query": QUERY, "extensions": "[]"}, "must be a JSON object"),
    ],
)
async def test_a_malformed_get_is_400(
    client: httpx.AsyncClient, params: dict[str, str], reason: str
) -> None:
    response = await client.get("/graphql", params=params, headers={"Accept": JSON})

    assert response.status_code == 400
    assert reason in response.json()["errors"][0]["message"]


async def test_a_repeated_parameter_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql?query=%7B__typename%7D&query=%7Bme%7Bid%7D%7D", headers={"Accept": JSON}
    )

    assert response.status_code == 400


async def test_a_browser_opening_a_shared_link_gets_graphiql(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql",
        params={"query": QUERY},
        headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
    )

    assert response.status_code == 200
    assert _media_type(response) == "text/html"
    assert "graphiql" in response.text.lower()
