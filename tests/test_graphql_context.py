"""The GraphQL context: who is asking, loaded once per request."""

from __future__ import annotations

import httpx

from tests.conftest import GraphQL, dev_login


async def test_root_fields_resolved_together_all_see_the_signed_in_user(
    client: httpx.AsyncClient, gql: GraphQL
) -> None:
    await dev_login(client, "carol")

    answer = await gql("{ me { username } apiKeys { id } subscriptions { id } }")

    assert answer == {"data": {"me": {"username": "carol"}, "apiKeys": [], "subscriptions": []}}
