"""Sessions the server can end: logout, signing out everywhere, and losing a role."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth.session import SESSION_COOKIE
from app.db.models import User
from app.resources import Resources
from app.services import api_keys, subscriptions, users
from tests import documents
from tests.portal import Portal
from tests.workflow.test_queries import counted_statements


async def _me(portal: Portal, cookie: str) -> object:
    """`me` as seen with exactly this session cookie."""
    portal.client.cookies.clear()
    portal.client.cookies.set(SESSION_COOKIE, cookie)
    return (await portal.gql(documents.ME))["data"]["me"]


async def _generation(db_engine: AsyncEngine, user_id: str) -> int:
    async with AsyncSession(db_engine) as session:
        user = await session.get(User, uuid.UUID(user_id))
        assert user is not None
        return user.session_generation


async def test_a_cookie_copied_before_logout_no_longer_signs_in(
    portal: Portal, db_engine: AsyncEngine
) -> None:
    user_id = await portal.login("gail")
    copied = portal.client.cookies[SESSION_COOKIE]

    logout = await portal.client.post("/auth/logout")
    replayed = await _me(portal, copied)

    assert logout.status_code == 303
    assert replayed is None
    assert await _generation(db_engine, user_id) == 1
    # The account itself is intact: signing in again works.
    portal.client.cookies.clear()
    assert await portal.login("gail") == user_id
    assert (await portal.data(documents.ME))["me"]["id"] == user_id


async def test_a_stale_cookie_cannot_log_out_the_current_session(
    portal: Portal, db_engine: AsyncEngine
) -> None:
    user_id = await portal.login("hal")
    stale = portal.client.cookies[SESSION_COOKIE]
    await portal.client.post("/auth/logout")
    portal.client.cookies.clear()
    await portal.login("hal")
    current = portal.client.cookies[SESSION_COOKIE]

    portal.client.cookies.clear()
    portal.client.cookies.set(SESSION_COOKIE, stale)
    await portal.client.post("/auth/logout")

    assert await _generation(db_engine, user_id) == 1
    me = await _me(portal, current)
    assert isinstance(me, dict)
    assert me["id"] == user_id


async def test_sign_out_everywhere_ends_every_session_of_the_caller_only(
    portal: Portal, client: httpx.AsyncClient
) -> None:
    other_user = await portal.login("ivy")
    other_cookie = client.cookies[SESSION_COOKIE]
    user_id = await portal.login("jon")
    laptop = client.cookies[SESSION_COOKIE]
    await portal.login("jon")
    phone = client.cookies[SESSION_COOKIE]

    response = await client.post("/graphql", json={"query": documents.SIGN_OUT_EVERYWHERE})

    result = response.json()["data"]["signOutEverywhere"]
    assert result["__typename"] == "SignOutEverywhereSuccess"
    assert result["user"]["id"] == user_id
    # The answer drops this browser's cookie too.
    assert f'{SESSION_COOKIE}=""' in response.headers["set-cookie"]
    assert await _me(portal, laptop) is None
    assert await _me(portal, phone) is None
    other = await _me(portal, other_cookie)
    assert isinstance(other, dict)
    assert other["id"] == other_user


async def test_sign_out_everywhere_needs_a_session(portal: Portal) -> None:
    body = await portal.gql(documents.SIGN_OUT_EVERYWHERE)

    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


async def test_losing_a_role_ends_the_sessions_opened_with_it(
    portal: Portal, db_engine: AsyncEngine
) -> None:
    user_id = await portal.login("kim", groups=["litemaas-admins"])
    as_admin = portal.client.cookies[SESSION_COOKIE]
    await portal.login("kim", groups=["litemaas-admins", "litemaas-users"])
    same_roles = portal.client.cookies[SESSION_COOKIE]

    await portal.login("kim", groups=[])
    as_user = portal.client.cookies[SESSION_COOKIE]

    assert await _me(portal, as_admin) is None
    assert await _me(portal, same_roles) is None
    me = await _me(portal, as_user)
    assert isinstance(me, dict)
    assert (me["id"], me["roles"]) == (user_id, ["user"])
    assert await _generation(db_engine, user_id) == 1


async def test_gaining_a_role_keeps_the_sessions(portal: Portal) -> None:
    await portal.login("lee", groups=[])
    before = portal.client.cookies[SESSION_COOKIE]
    await portal.login("lee", groups=["litemaas-admins"])

    me = await _me(portal, before)

    assert isinstance(me, dict)
    assert me["roles"] == ["admin", "user"]


async def test_the_session_check_is_part_of_the_one_read_of_the_signed_in_user(
    portal: Portal, resources: Resources
) -> None:
    await portal.login("max")

    with counted_statements(resources) as statements:
        body = await portal.gql(documents.ME)

    assert "errors" not in body, body
    # One statement reads the signed-in user and checks the session (active, still current).
    assert len(statements) == 1, statements
    [user_read] = [s for s in statements if "session_generation" in s]
    assert "is_active" in user_read
    assert "roles" in user_read


async def test_ending_sessions_needs_the_current_generation_when_one_is_given(
    portal: Portal, resources: Resources, db_engine: AsyncEngine
) -> None:
    user_id = await portal.login("ned")

    stale = await users.end_sessions(
        users=resources.users, user_id=uuid.UUID(user_id), generation=7
    )
    current = await users.end_sessions(
        users=resources.users, user_id=uuid.UUID(user_id), generation=0
    )

    assert stale is None
    assert current is not None
    assert (current.id, current.session_generation) == (uuid.UUID(user_id), 1)
    async with AsyncSession(db_engine) as session:
        [user] = (await session.exec(select(User))).all()
    assert user.session_generation == 1


async def test_the_catalogue_shows_an_ended_sessions_subscriptions_to_nobody(
    portal: Portal, resources: Resources
) -> None:
    await portal.login("ola")
    await portal.subscribe("m1")
    copied = portal.client.cookies[SESSION_COOKIE]
    with counted_statements(resources) as statements:
        signed_in = (await portal.data(documents.MODELS))["models"]

    await portal.client.post("/auth/logout")
    portal.client.cookies.clear()
    portal.client.cookies.set(SESSION_COOKIE, copied)
    replayed = (await portal.data(documents.MODELS))["models"]

    assert {m["id"]: m["subscription"] is not None for m in signed_in} == {
        "m1": True,
        "m2": False,
    }
    # The models, their subscriptions and the session check are one statement.
    assert len(statements) == 1, statements
    assert [m["subscription"] for m in replayed] == [None, None]


def _key_shown(key: dict[str, Any]) -> object:
    return key["name"], [m["id"] for m in key["modelAccess"]]


def _subscription_shown(subscription: dict[str, Any]) -> object:
    return subscription["status"], subscription["model"]["id"]


# The pages that read the caller's own data with the session check in their one statement: the
# root field, its document, and what the test shows of each entry.
OWN_PAGES: dict[str, tuple[str, Callable[[dict[str, Any]], object]]] = {
    "apiKeys": (documents.API_KEYS, _key_shown),
    "subscriptions": (documents.SUBSCRIPTIONS, _subscription_shown),
}


@pytest.mark.parametrize(
    ("field", "expected"),
    [("apiKeys", [("laptop", ["m1"])]), ("subscriptions", [("ACTIVE", "m1")])],
)
async def test_a_page_of_ones_own_checks_the_session_in_its_one_statement(
    portal: Portal, resources: Resources, field: str, expected: list[object]
) -> None:
    document, shown = OWN_PAGES[field]
    await portal.login("pia")
    await portal.subscribe("m1")
    await portal.create_key(["m1"], name="laptop")
    copied = portal.client.cookies[SESSION_COOKIE]
    with counted_statements(resources) as statements:
        listed = (await portal.data(document))[field]

    await portal.client.post("/auth/logout")
    portal.client.cookies.clear()
    anonymous = await portal.gql(document)
    portal.client.cookies.set(SESSION_COOKIE, copied)
    with counted_statements(resources) as refusing:
        replayed = await portal.gql(document)

    assert [shown(entry) for entry in listed] == expected
    # The entries, their models and the session check (user active, generation current).
    assert len(statements) == 1, statements
    assert "session_generation" in statements[0]
    assert "is_active" in statements[0]
    # An ended session is refused by that statement, with an anonymous visitor's answer.
    assert len(refusing) == 1, refusing
    assert replayed == anonymous
    assert replayed["data"] is None
    assert [(e["message"], e["path"], e["extensions"]) for e in replayed["errors"]] == [
        ("Sign in to do this.", [field], {"code": "UNAUTHENTICATED"})
    ]


async def _keys_of_session(
    resources: Resources, user_id: uuid.UUID, generation: int
) -> list[str] | None:
    keys = await api_keys.list_for_session(
        keys=resources.api_keys, user_id=user_id, generation=generation
    )
    return None if keys is None else [k.name for k in keys]


async def _subscriptions_of_session(
    resources: Resources, user_id: uuid.UUID, generation: int
) -> list[str] | None:
    found = await subscriptions.list_for_session(
        subscriptions=resources.subscriptions, user_id=user_id, generation=generation
    )
    return None if found is None else [model.id for _, model in found]


@pytest.mark.parametrize(
    ("listing", "expected"),
    [(_keys_of_session, ["laptop"]), (_subscriptions_of_session, ["m1"])],
)
async def test_a_listing_of_ones_own_refuses_an_ended_session_and_a_deactivated_user_by_itself(
    portal: Portal,
    resources: Resources,
    db_engine: AsyncEngine,
    listing: Callable[[Resources, uuid.UUID, int], Awaitable[list[str] | None]],
    expected: list[str],
) -> None:
    user_id = uuid.UUID(await portal.login("quin"))

    async def listed(generation: int, user: uuid.UUID = user_id) -> list[str] | None:
        return await listing(resources, user, generation)

    assert await listed(0) == []  # current, nothing yet
    await portal.subscribe("m1")
    await portal.create_key(["m1"], name="laptop")
    assert await listed(0) == expected
    assert await listed(1) is None  # not a generation the user has reached
    assert await listed(0, uuid.uuid4()) is None  # nobody

    await portal.client.post("/auth/logout")
    assert await listed(0) is None  # ended by the logout
    assert await listed(1) == expected

    # Deactivated with the generation left as it is: the listing's own check refuses.
    async with AsyncSession(db_engine) as session:
        user = await session.get(User, user_id)
        assert user is not None
        assert user.session_generation == 1
        user.is_active = False
        session.add(user)
        await session.commit()
    assert await listed(1) is None
