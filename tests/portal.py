"""A portal user in tests: one browser's cookie jar and the calls the frontend makes."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests import documents


class Portal:
    """One browser: a cookie jar and the GraphQL calls the frontend makes."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def gql(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self.client.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, **variables: Any) -> dict[str, Any]:
        body = await self.gql(query, **variables)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def login(self, username: str | None = None, groups: list[str] | None = None) -> str:
        """Dev login as a new (unique) user; returns the user id."""
        username = username or f"user-{uuid.uuid4().hex[:10]}"
        response = await self.client.post(
            "/auth/dev-login",
            json={"username": username, "email": f"{username}@example.com", "groups": groups or []},
        )
        assert response.status_code == 200, response.text
        user_id: str = response.json()["id"]
        return user_id

    async def subscribe(self, model_id: str) -> dict[str, Any]:
        result: dict[str, Any] = (await self.data(documents.SUBSCRIPTION_CREATE, modelId=model_id))[
            "subscriptionCreate"
        ]
        return result

    async def cancel(self, subscription_id: str) -> dict[str, Any]:
        result: dict[str, Any] = (
            await self.data(documents.SUBSCRIPTION_CANCEL, id=subscription_id)
        )["subscriptionCancel"]
        return result

    async def create_key(
        self, model_ids: list[str], name: str = "key", **extra: Any
    ) -> dict[str, Any]:
        result: dict[str, Any] = (
            await self.data(
                documents.API_KEY_CREATE, input={"name": name, "modelIds": model_ids, **extra}
            )
        )["apiKeyCreate"]
        return result

    async def revoke(self, key_id: str) -> dict[str, Any]:
        result: dict[str, Any] = (await self.data(documents.API_KEY_REVOKE, id=key_id))[
            "apiKeyRevoke"
        ]
        return result

    async def keys(self) -> list[dict[str, Any]]:
        keys: list[dict[str, Any]] = (await self.data(documents.API_KEYS))["apiKeys"]
        return keys
