"""Fixtures for SSO tests: a real OpenID provider, and apps reached as a browser would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app.settings import AuthMode, Settings
from tests.auth.oidc_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    OidcTestProvider,
    running_oidc_provider,
)
from tests.conftest import make_settings

# Where the apps under test appear to live. httpx hands these hosts to the apps in-process,
# so nothing listens there; the provider only needs the callback URLs to match.
PUBLIC_URL = "http://127.0.0.1:4290"
SECOND_PUBLIC_URL = "http://127.0.0.1:4291"
SESSION_SECRET = "sso-tests-session-secret-0123456789abcdef"


@pytest.fixture(autouse=True)
def _empty_tables_after_each_test(db_engine: AsyncEngine) -> None:
    """Every test here signs someone in: `db_engine` empties the tables afterwards."""


@pytest.fixture(scope="session")
async def oidc_provider() -> AsyncIterator[OidcTestProvider]:
    async with running_oidc_provider([PUBLIC_URL, SECOND_PUBLIC_URL]) as provider:
        yield provider


def oidc_settings(database_url: str, issuer: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "auth_mode": AuthMode.OIDC,
        "oidc_issuer": issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "oidc_scopes": "openid profile email groups",
        "public_url": PUBLIC_URL,
        "session_secret": SESSION_SECRET,
    }
    return make_settings(**(values | overrides))


@asynccontextmanager
async def browser_client(
    apps: dict[str, Starlette], **client_options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """One cookie jar, as in a browser: each app answers at its URL, the rest is real HTTP."""
    async with AsyncExitStack() as stack:
        mounts: dict[str, httpx.AsyncBaseTransport] = {}
        for url, app in apps.items():
            await stack.enter_async_context(app.router.lifespan_context(app))
            mounts[url] = httpx.ASGITransport(app=app)
        client = httpx.AsyncClient(mounts=mounts, **client_options)
        yield await stack.enter_async_context(client)


def login_error(response: httpx.Response, frontend_home: str = f"{PUBLIC_URL}/") -> str:
    """The code a refused sign-in sent the browser back to the frontend with."""
    assert response.status_code == 303, response.text
    target = urlsplit(response.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == frontend_home
    assert "json" not in response.headers.get("content-type", "")
    [code] = parse_qs(target.query)["loginError"]
    return code
