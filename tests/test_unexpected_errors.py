"""Failures the client did not cause: a code and a plain message, the details in the log."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from app.auth.session import SESSION_COOKIE
from app.failures import database_unavailable
from app.main import create_app
from app.services import catalog
from app.settings import Settings
from tests.auth.session_cookie import write_session
from tests.conftest import TEST_DATABASE_SERVER, make_settings, serve
from tests.portal import Portal


@pytest.fixture
def no_database_settings() -> Settings:
    # Nothing listens on port 1: connecting fails at once.
    return make_settings(
        database_url="postgresql+asyncpg://postgres@127.0.0.1:1/litemaas",
        litellm_url="http://127.0.0.1:9",
        litellm_master_key="sk-unused",
    )


@pytest.fixture
async def no_database(no_database_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The service with its PostgreSQL unreachable."""
    async with serve(create_app(no_database_settings)) as client:
        yield client


async def test_graphql_says_the_database_is_unavailable_without_its_address(
    no_database: httpx.AsyncClient,
) -> None:
    answer = await Portal(no_database).gql("{ models { id } }")

    (error,) = answer["errors"]
    assert error["extensions"] == {"code": "DATABASE_UNAVAILABLE"}
    assert error["message"] == "The database is unavailable. Try again shortly."
    assert answer["data"] is None


async def test_authz_fails_closed_with_503_when_the_database_is_unavailable(
    no_database: httpx.AsyncClient,
) -> None:
    response = await no_database.get(
        "/authz?model=m1", headers={"Authorization": "Bearer sk-anything"}
    )

    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json() == {
        "allowed": False,
        "code": "DATABASE_UNAVAILABLE",
        "message": "The database is unavailable. Try again shortly.",
        "model": "m1",
    }


async def test_a_sign_in_while_the_database_is_unavailable_is_503_with_its_code(
    no_database: httpx.AsyncClient,
) -> None:
    response = await no_database.post(
        "/auth/dev-login", json={"username": "ada", "email": "ada@example.com"}
    )

    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json() == {
        "error": {
            "code": "DATABASE_UNAVAILABLE",
            "message": "The database is unavailable. Try again shortly.",
        }
    }
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


async def test_a_sign_out_while_the_database_is_unavailable_keeps_the_session_and_says_so(
    no_database: httpx.AsyncClient, no_database_settings: Settings
) -> None:
    # Ending the session everywhere needs the database: the browser is sent back with the code
    # and keeps its cookie, rather than being signed out here while copies elsewhere live on.
    secret = no_database_settings.session_secret.get_secret_value()
    signed_in = {"uid": str(uuid.uuid4()), "gen": 0, "exp": int(time.time()) + 60}
    cookie = write_session(signed_in, secret)
    no_database.cookies.set(SESSION_COOKIE, cookie)

    response = await no_database.post("/auth/logout")

    assert response.status_code == 303
    assert response.headers["location"] == (
        f"{no_database_settings.frontend_home}?loginError=DATABASE_UNAVAILABLE"
    )
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert no_database.cookies[SESSION_COOKIE] == cookie


async def test_a_bug_is_internal_server_error_and_logged_in_full(
    portal: Portal, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(**_kwargs: object) -> None:
        raise RuntimeError("catalogue bug at /srv/secret/path")

    # Any defect in a resolver's path, standing in for a real one.
    monkeypatch.setattr(catalog, "list_models", broken)
    with caplog.at_level(logging.ERROR):
        answer = await portal.gql("{ models { id } }")

    (error,) = answer["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "secret" not in error["message"]
    assert "catalogue bug at /srv/secret/path" in caplog.text


async def test_refusals_keep_their_own_code_and_message(portal: Portal) -> None:
    answer = await portal.gql("{ apiKeys { id } }")

    (error,) = answer["errors"]
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}
    assert error["message"] == "Sign in to do this."


@pytest.fixture(params=["missing database", "unknown role"])
async def refusing_database(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    """The service pointed at the real PostgreSQL server with a database or role it lacks."""
    server = make_url(TEST_DATABASE_SERVER)
    missing = f"litemaas_missing_{uuid.uuid4().hex[:8]}"
    url = (
        server.set(database=missing)
        if request.param == "missing database"
        else server.set(username=missing, password="wrong")
    )
    settings = make_settings(
        database_url=url.render_as_string(hide_password=False),
        litellm_url="http://127.0.0.1:9",
        litellm_master_key="sk-unused",
    )
    async with serve(create_app(settings)) as client:
        yield client


async def test_a_missing_database_or_refused_role_is_database_unavailable(
    refusing_database: httpx.AsyncClient,
) -> None:
    answer = await Portal(refusing_database).gql("{ models { id } }")
    authz = await refusing_database.get(
        "/authz?model=m1", headers={"Authorization": "Bearer sk-anything"}
    )
    ready = await refusing_database.get("/readyz")

    (error,) = answer["errors"]
    assert error["extensions"] == {"code": "DATABASE_UNAVAILABLE"}
    assert answer["data"] is None
    assert (authz.status_code, authz.json()["code"]) == (503, "DATABASE_UNAVAILABLE")
    assert ready.status_code == 503


@pytest.mark.parametrize(
    "refusal",
    [
        asyncpg.InvalidCatalogNameError('database "x" does not exist'),
        asyncpg.InvalidAuthorizationSpecificationError('role "x" does not exist'),
        asyncpg.InvalidPasswordError('password authentication failed for user "x"'),
    ],
)
def test_a_refused_connection_counts_as_the_database_unavailable(refusal: Exception) -> None:
    # A password cannot be refused by the test server (it trusts every local connection).
    assert database_unavailable(refusal)
