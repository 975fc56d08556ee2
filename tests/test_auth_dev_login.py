from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request

from app.auth.session import SESSION_COOKIE, Session, SessionCookie
from app.db.models import AuditEvent, User
from app.main import create_app
from app.settings import AuthMode, Environment, Settings
from tests import documents
from tests.auth.session_cookie import write_session
from tests.conftest import make_settings, serve
from tests.portal import Portal

# What AUTH_MODE=oidc needs in any environment.
SSO = {
    "oidc_issuer": "https://sso.example.com",
    "oidc_client_id": "litemaas",
    "oidc_client_secret": "an-oidc-client-secret",
}
PRODUCTION_SECRETS = {
    "session_secret": "o3JrWswFC_EF14pNeV02VkYt-sDyP9lhq6NNK6S5pIEez167G4sPWEzBoCRRLXQu",
    "litellm_url": "http://127.0.0.1:9",
    "litellm_master_key": "sk-a-real-master-key",
    "public_url": "https://litemaas.example.com",
    **SSO,
}


async def test_anonymous_me_is_null(portal: Portal) -> None:
    assert await portal.gql(documents.ME) == {"data": {"me": None}}


async def test_dev_login_then_me_returns_the_user_with_roles_from_groups(
    client: httpx.AsyncClient, portal: Portal, db_engine: AsyncEngine
) -> None:
    response = await client.post(
        "/auth/dev-login",
        json={"username": "alice", "email": "alice@example.com", "groups": ["litemaas-admins"]},
    )

    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    me = (await portal.gql(documents.ME))["data"]["me"]
    assert me["username"] == "alice"
    assert me["email"] == "alice@example.com"
    assert me["roles"] == ["admin", "user"]
    async with AsyncSession(db_engine) as session:
        users = (await session.exec(select(User))).all()
        events = (await session.exec(select(AuditEvent))).all()
    assert [str(u.id) for u in users] == [me["id"]]
    assert [(e.action, str(e.actor_id)) for e in events] == [("user.login", me["id"])]


async def test_second_login_updates_the_same_user(portal: Portal, db_engine: AsyncEngine) -> None:
    first = await portal.login("bob", groups=["litemaas-admins"])
    second = await portal.login("bob", groups=[])

    assert first == second
    assert (await portal.gql(documents.ME))["data"]["me"]["roles"] == ["user"]
    async with AsyncSession(db_engine) as session:
        assert len((await session.exec(select(User))).all()) == 1


async def test_a_tampered_session_cookie_is_anonymous(
    client: httpx.AsyncClient, portal: Portal
) -> None:
    await portal.login()
    value = client.cookies[SESSION_COOKIE]
    client.cookies.set(SESSION_COOKIE, value[:-4] + "AAAA")

    assert await portal.gql(documents.ME) == {"data": {"me": None}}


async def test_graphql_reads_the_session_without_sending_it_back(
    client: httpx.AsyncClient, portal: Portal
) -> None:
    await portal.login("dana")

    response = await client.post("/graphql", json={"query": documents.ME})

    assert response.json()["data"]["me"]["username"] == "dana"
    assert "set-cookie" not in response.headers


async def test_a_session_past_its_expiry_is_anonymous(
    client: httpx.AsyncClient, portal: Portal, settings: Settings
) -> None:
    user_id = await portal.login()
    # Signed with the right secret and within the cookie's age, but its own expiry has passed.
    secret = settings.session_secret.get_secret_value()
    expired = {"uid": user_id, "gen": 0, "exp": int(time.time()) - 1}
    client.cookies.set(SESSION_COOKIE, write_session(expired, secret))
    assert await portal.gql(documents.ME) == {"data": {"me": None}}

    fresh = {"uid": user_id, "gen": 0, "exp": int(time.time()) + 60}
    client.cookies.set(SESSION_COOKIE, write_session(fresh, secret))
    assert (await portal.data(documents.ME))["me"]["id"] == user_id


def _carrying(cookie: str) -> Request:
    header = f"{SESSION_COOKIE}={cookie}".encode()
    return Request({"type": "http", "headers": [(b"cookie", header)]})


async def test_a_cookie_accepted_once_is_refused_past_its_expiry_and_past_the_maximum_age(
    settings: Settings,
) -> None:
    # The cookie is remembered once its signature has held: its expiry and age are not.
    cookies = SessionCookie(settings)
    short_lived = SessionCookie(settings.model_copy(update={"session_max_age": 1}))
    secret = settings.session_secret.get_secret_value()
    user_id = "00000000-0000-4000-8000-000000000001"
    expiring = write_session({"uid": user_id, "gen": 0, "exp": int(time.time()) + 2}, secret)
    lasting = write_session({"uid": user_id, "gen": 0, "exp": int(time.time()) + 60}, secret)
    signed_in = Session(uuid.UUID(user_id), 0)
    assert cookies.session(_carrying(expiring)) == signed_in
    assert short_lived.session(_carrying(lasting)) == signed_in
    assert short_lived.session(_carrying(lasting[:-4] + "AAAA")) is None

    await asyncio.sleep(2.5)
    assert cookies.session(_carrying(expiring)) is None  # its own expiry passed
    assert short_lived.session(_carrying(lasting)) is None  # older than SESSION_MAX_AGE
    assert cookies.session(_carrying(lasting)) == signed_in


async def test_a_cookie_without_a_session_generation_signs_nobody_in(
    client: httpx.AsyncClient, portal: Portal, settings: Settings
) -> None:
    # As cookies were written before sessions could be ended: the server cannot end them.
    user_id = await portal.login()
    secret = settings.session_secret.get_secret_value()
    old_style = {"uid": user_id, "exp": int(time.time()) + 60}
    client.cookies.set(SESSION_COOKIE, write_session(old_style, secret))

    assert await portal.gql(documents.ME) == {"data": {"me": None}}


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        # What a cross-site HTML form can send without asking the browser's CORS permission.
        ('{"username": "victim", "email": "attacker@example.com"}', "text/plain"),
        ("username=victim&email=attacker%40example.com", "application/x-www-form-urlencoded"),
        ('{"username": "victim", "email": "attacker@example.com"}', "multipart/form-data"),
        ('{"username": "victim", "email": "attacker@example.com"}', None),
    ],
)
async def test_dev_login_accepts_json_only_so_a_cross_site_form_signs_nobody_in(
    client: httpx.AsyncClient,
    portal: Portal,
    db_engine: AsyncEngine,
    content: str,
    content_type: str | None,
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post("/auth/dev-login", content=content, headers=headers)

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert await portal.gql(documents.ME) == {"data": {"me": None}}
    async with AsyncSession(db_engine) as session:
        assert (await session.exec(select(User))).all() == []
        assert (await session.exec(select(AuditEvent))).all() == []


async def test_dev_login_accepts_json_with_a_charset(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/dev-login",
        content='{"username": "erin", "email": "erin@example.com"}',
        headers={"content-type": "application/json; charset=utf-8"},
    )

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"email": "a@example.com"}, "username"),
        ({"username": "a", "email": "not-an-email"}, "email"),
        ({"username": "a", "email": "a@example.com", "groups": "admins"}, "groups"),
        (["not", "an", "object"], "JSON object"),
    ],
)
async def test_dev_login_rejects_bad_input(
    client: httpx.AsyncClient, body: object, problem: str
) -> None:
    response = await client.post("/auth/dev-login", json=body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert problem in error["message"]


async def test_dev_login_is_404_in_production(database_url: str, db_engine: AsyncEngine) -> None:
    settings = make_settings(
        database_url=database_url,
        env=Environment.PRODUCTION,
        auth_mode=AuthMode.OIDC,
        **PRODUCTION_SECRETS,
    )
    async with serve(create_app(settings)) as client:
        response = await client.post(
            "/auth/dev-login", json={"username": "mallory", "email": "m@example.com"}
        )

    assert response.status_code == 404
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    async with AsyncSession(db_engine) as session:
        assert (await session.exec(select(User))).all() == []


async def test_dev_login_is_404_when_auth_mode_is_sso(database_url: str) -> None:
    settings = make_settings(database_url=database_url, auth_mode=AuthMode.OIDC, **SSO)
    async with serve(create_app(settings)) as client:
        response = await client.post(
            "/auth/dev-login", json={"username": "mallory", "email": "m@example.com"}
        )

    assert response.status_code == 404
