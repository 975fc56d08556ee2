"""The GraphQL context: who is asking, loaded once per request."""

from __future__ import annotations

from tests.portal import Portal


async def test_root_fields_resolved_together_all_see_the_signed_in_user(portal: Portal) -> None:
    await portal.login("carol")

    answer = await portal.gql("{ me { username } apiKeys { id } subscriptions { id } }")

    assert answer == {"data": {"me": {"username": "carol"}, "apiKeys": [], "subscriptions": []}}
