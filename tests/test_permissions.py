from __future__ import annotations

import httpx

from tests.conftest import GraphQL, dev_login

USERS = "{ users { username roles } }"


async def test_an_admin_lists_every_user_by_username(
    client: httpx.AsyncClient, gql: GraphQL
) -> None:
    await dev_login(client, "zoe")
    await dev_login(client, "bob", groups=["litemaas-readonly"])
    await dev_login(client, "ada", groups=["litemaas-admins"])

    body = await gql(USERS)

    assert body == {
        "data": {
            "users": [
                {"username": "ada", "roles": ["admin", "user"]},
                {"username": "bob", "roles": ["admin-readonly", "user"]},
                {"username": "zoe", "roles": ["user"]},
            ]
        }
    }


async def test_users_returns_at_most_first(client: httpx.AsyncClient, gql: GraphQL) -> None:
    for name in ("carl", "bea"):
        await dev_login(client, name)
    await dev_login(client, "ada", groups=["litemaas-admins"])

    body = await gql("{ users(first: 2) { username } }")

    assert body["data"]["users"] == [{"username": "ada"}, {"username": "bea"}]


async def test_a_user_without_the_admin_role_is_forbidden(
    client: httpx.AsyncClient, gql: GraphQL
) -> None:
    await dev_login(client, "bob", groups=["litemaas-readonly", "litemaas-users"])

    body = await gql(USERS)

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert error["path"] == ["users"]


async def test_an_anonymous_caller_is_unauthenticated(gql: GraphQL) -> None:
    body = await gql(USERS)

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}
    assert error["message"] == "Sign in to do this."
