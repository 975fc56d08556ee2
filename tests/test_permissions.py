from __future__ import annotations

from typing import Any

from tests.portal import Portal

USERS = "{ users { totalCount edges { node { username roles } } } }"


def _names(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in body["data"]["users"]["edges"]]


async def test_an_admin_lists_every_user_by_username(portal: Portal) -> None:
    await portal.login("zoe")
    await portal.login("bob", groups=["litemaas-readonly"])
    await portal.login("ada", groups=["litemaas-admins"])

    body = await portal.gql(USERS)

    assert "errors" not in body
    assert _names(body) == [
        {"username": "ada", "roles": ["admin", "user"]},
        {"username": "bob", "roles": ["admin-readonly", "user"]},
        {"username": "zoe", "roles": ["user"]},
    ]
    assert body["data"]["users"]["totalCount"] == 3


async def test_a_read_only_admin_lists_users_too(portal: Portal) -> None:
    await portal.login("zoe")
    await portal.login("bob", groups=["litemaas-readonly"])

    body = await portal.gql(USERS)

    assert [u["username"] for u in _names(body)] == ["bob", "zoe"]


async def test_users_returns_at_most_first(portal: Portal) -> None:
    for name in ("carl", "bea"):
        await portal.login(name)
    await portal.login("ada", groups=["litemaas-admins"])

    body = await portal.gql(
        "{ users(first: 2) { totalCount pageInfo { hasNextPage } edges { node { username } } } }"
    )

    assert body["data"]["users"] == {
        "totalCount": 3,
        "pageInfo": {"hasNextPage": True},
        "edges": [{"node": {"username": "ada"}}, {"node": {"username": "bea"}}],
    }


async def test_a_user_without_an_admin_role_is_forbidden(portal: Portal) -> None:
    await portal.login("bob", groups=["litemaas-users"])

    body = await portal.gql(USERS)

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert error["path"] == ["users"]


async def test_an_anonymous_caller_is_unauthenticated(portal: Portal) -> None:
    body = await portal.gql(USERS)

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}
    assert error["message"] == "Sign in to do this."
