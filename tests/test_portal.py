"""`litemaas-bff dev` serves the built portal at `/`; production serves none of it."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app.http import portal
from app.main import create_app
from tests.conftest import make_settings, serve
from tests.test_auth_dev_login import PRODUCTION_SECRETS


@pytest.fixture
def built() -> Path:
    page = portal.BUILD_DIR / "index.html"
    if not page.is_file():
        pytest.fail(f"the portal is not built ({page} is missing): run `make web`")
    return portal.BUILD_DIR


async def test_every_page_path_answers_the_app_page_with_its_policy(
    client: httpx.AsyncClient, built: Path
) -> None:
    page = (built / "index.html").read_text()

    paths = ("/", "/keys", "/subscriptions", "/admin/requests", "/sign-in?redirect=%2Fkeys")
    answers = [await client.get(path) for path in paths]

    assert [(a.status_code, a.text) for a in answers] == [(200, page)] * len(paths)
    policy = answers[0].headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert answers[0].headers["cache-control"] == "no-cache"


async def test_the_bundles_the_page_names_are_served_for_ever(
    client: httpx.AsyncClient, built: Path
) -> None:
    names = re.findall(r'"(/assets/[^"]+)"', (built / "index.html").read_text())

    answers = [await client.get(name) for name in names]

    assert len(names) == 2, "the page names one script and one stylesheet"
    assert [a.status_code for a in answers] == [200, 200]
    assert {a.headers["cache-control"] for a in answers} == {"public, max-age=31536000, immutable"}
    assert (await client.get("/assets/missing.js")).status_code == 404


async def test_the_service_routes_come_before_the_portal(
    client: httpx.AsyncClient, built: Path
) -> None:
    health = await client.get("/healthz")
    ide = await client.get("/graphql", headers={"Accept": "text/html"})
    login = await client.get("/auth/login")

    assert (health.status_code, health.text) == (200, "ok")
    assert "graphiql" in ide.text.lower()
    # Development signs in with /auth/dev-login: /auth/login is the service's 404, not the app.
    assert (login.status_code, login.json()["error"]["code"]) == (404, "NOT_FOUND")


async def test_production_serves_no_portal(database_url: str, db_engine: AsyncEngine) -> None:
    settings = make_settings(
        database_url=database_url, env="production", auth_mode="oidc", **PRODUCTION_SECRETS
    )
    async with serve(create_app(settings)) as client:
        answers = [await client.get(path) for path in ("/", "/keys", "/assets/main.js")]

    assert [a.status_code for a in answers] == [404, 404, 404]


async def test_an_unbuilt_portal_says_how_to_build_it(tmp_path: Path) -> None:
    app = Starlette(routes=portal.routes(make_settings(), build_dir=tmp_path))

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        answer = await client.get("/keys")

    assert answer.status_code == 503
    assert answer.text == portal.NOT_BUILT
    assert "make web" in answer.text
